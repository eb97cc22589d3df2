namespace Lguest.Cli.Api;

/// <summary>Firecracker's MemoryBackend, in a snapshot load: where guest RAM comes from.</summary>
/// <param name="BackendType">"File" or "Uffd" (a userfaultfd handler: refused by lguest).</param>
/// <param name="BackendPath">The memory file, or the handler's socket.</param>
internal sealed record MemoryBackend(string BackendType, string BackendPath)
{
    public const string File = "File", Uffd = "Uffd";
}
