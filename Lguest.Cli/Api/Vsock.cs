namespace Lguest.Cli.Api;

/// <summary>
/// PUT /vsock (Firecracker's Vsock): a virtio-vsock device whose host side is the Unix socket <paramref name="UdsPath"/>
/// (host-initiated connections: connect and send "CONNECT port\n"; guest-initiated: lguest connects to
/// <c>UdsPath_PORT</c>). Pre-boot only.
/// </summary>
/// <param name="GuestCid">The guest's context id: 3 or more.</param>
/// <param name="UdsPath">The host socket's path.</param>
/// <param name="VsockId">Deprecated by Firecracker; accepted and ignored.</param>
internal sealed record Vsock(uint GuestCid, string UdsPath, string? VsockId = null)
{
    /// <summary>The first context id a guest may have (0-2 are the hypervisor's, the local and the host's).</summary>
    public const uint FirstGuestCid = 3;

    /// <summary>Why the device cannot be added, or null.</summary>
    public string? Validate()
    {
        if (GuestCid < FirstGuestCid || GuestCid == uint.MaxValue)
            return $"The guest CID {GuestCid} is invalid: it must be from {FirstGuestCid} to {uint.MaxValue - 1}.";
        if (UdsPath.Length == 0)
            return "The vsock's uds_path is empty.";
        string? folder = Path.GetDirectoryName(Path.GetFullPath(UdsPath));
        if (folder is not null && !Directory.Exists(folder))
            return $"The vsock's uds_path folder '{folder}' does not exist.";
        return null;
    }
}
