namespace Lguest.Cli.Api;

/// <summary>
/// <c>--config-file</c>: Firecracker's configuration file, applied to an <see cref="ApiMachine"/> resource by resource
/// as the API calls would, with the same checks and faults.
/// </summary>
internal static class ConfigFile
{
    /// <summary>The largest file read: far beyond any machine's description, so a wrong file (a disk image) is refused unread.</summary>
    public const int MaxBytes = 1 << 20;

    /// <summary>Applies the file at <paramref name="path"/>; null when the machine is ready to start, else why not (one line).</summary>
    public static string? Apply(string path, ApiMachine machine)
    {
        byte[] bytes;
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists)
                return Directory.Exists(path) ? "is a directory" : "no such file";
            if (info.Length > MaxBytes)
                return $"{info.Length} bytes is not a configuration file (at most {MaxBytes})";
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
        return Apply(bytes, machine);
    }

    /// <summary>Applies a configuration file's bytes; null when the machine is ready to start, else why not.</summary>
    public static string? Apply(ReadOnlySpan<byte> bytes, ApiMachine machine)
    {
        if (!ApiRequestParser.TryParse(bytes, ApiJsonContext.Default.FullVmConfiguration, out FullVmConfiguration? config, out string? fault, MaxBytes))
            return fault;
        if (config.MachineConfig is { } shape && machine.SetMachineConfig(shape) is { } badShape)
            return $"machine-config: {badShape}";
        if (config.BootSource is not { } boot)
            return "boot-source: missing (Firecracker's MissingKernelConfig: a machine needs a kernel)";
        if (machine.SetBootSource(boot) is { } badBoot)
            return $"boot-source: {badBoot}";
        foreach (Drive drive in config.Drives ?? [])
        {
            if ((ApiRequestParser.CheckId(drive.DriveId) ?? machine.SetDrive(drive.DriveId, drive)) is { } badDrive)
                return $"drives '{drive.DriveId}': {badDrive}";
        }
        foreach (NetworkInterface network in config.NetworkInterfaces ?? [])
        {
            if ((ApiRequestParser.CheckId(network.IfaceId) ?? machine.SetNetworkInterface(network.IfaceId, network)) is { } badNetwork)
                return $"network-interfaces '{network.IfaceId}': {badNetwork}";
        }
        if (config.Vsock is { } vsock && machine.SetVsock(vsock) is { } badVsock)
            return $"vsock: {badVsock}";
        if (config.Entropy is { } entropy && machine.SetEntropy(entropy) is { } badEntropy)
            return $"entropy: {badEntropy}";
        return null;
    }
}
