using System.Text.Json;

namespace Lguest.Cli.Api;

/// <summary>PUT /entropy (Firecracker's EntropyDevice): a virtio entropy device fed from the host's random source. Pre-boot only.</summary>
/// <param name="RateLimiter">Not supported: refused when given.</param>
internal sealed record Entropy(JsonElement? RateLimiter = null)
{
    /// <summary>Why the device cannot be added, or null.</summary>
    public string? Validate() => RateLimiter is not null ? "Rate limiters are not supported by lguest." : null;
}
