using System.Text.Json;

namespace Lguest.Cli.Api;

/// <summary>
/// PUT /drives/{drive_id} (Firecracker's Drive): a virtio block device on a host file. Pre-boot only; a second PUT of
/// the same id replaces it. The root device is the guest's first disk, /dev/vda, and its root= on the command line.
/// </summary>
/// <param name="DriveId">The id, as in the path.</param>
/// <param name="IsRootDevice">Whether the guest boots from it.</param>
/// <param name="PathOnHost">The disk image (optional in Firecracker's schema, where a vhost-user drive has a socket instead).</param>
/// <param name="IsReadOnly">Offer it read-only (and open the image read-only).</param>
/// <param name="Partuuid">With <paramref name="IsRootDevice"/>: root=PARTUUID= instead of root=/dev/vda.</param>
/// <param name="CacheType">"Unsafe" or "Writeback": lguest's disks honour flushes either way.</param>
/// <param name="IoEngine">"Sync" (one request at a time) or "Async" (io_uring, the default here).</param>
/// <param name="RateLimiter">Not supported: refused when given.</param>
/// <param name="Socket">A vhost-user backend: not supported, refused when given.</param>
internal sealed record Drive(string DriveId, bool IsRootDevice, string? PathOnHost = null, bool IsReadOnly = false, string? Partuuid = null,
    string? CacheType = null, string? IoEngine = null, JsonElement? RateLimiter = null, string? Socket = null)
{
    /// <summary>Why the drive cannot be added, or null.</summary>
    public string? Validate()
    {
        if (RateLimiter is not null)
            return "Rate limiters are not supported by lguest.";
        if (Socket is not null)
            return "vhost-user drives are not supported by lguest.";
        if (CacheType is not (null or "Unsafe" or "Writeback"))
            return $"Unknown cache_type '{CacheType}': expected Unsafe or Writeback.";
        if (IoEngine is not (null or "Sync" or "Async"))
            return $"Unknown io_engine '{IoEngine}': expected Sync or Async.";
        if (PathOnHost is null)
            return "A drive needs path_on_host.";
        if (ApiFiles.CannotOpen(PathOnHost) is { } why)
            return $"Unable to open the drive's file: {why}";
        if (Partuuid is not null && (Partuuid.Length is 0 or > 64 || !Partuuid.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')))
            return $"The partuuid '{Partuuid}' is not a partition UUID.";
        return null;
    }
}
