using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// What the queues of one virtio-fs device share: the file system and whether the guest's FUSE client has
/// completed INIT (and not yet sent DESTROY). Before INIT every request but INIT gets EIO, as libfuse answers.
/// </summary>
internal sealed class FuseSession(IFileSystem fileSystem, string name, ILogger logger)
{
    private volatile bool _initialized;

    public IFileSystem FileSystem => fileSystem;

    public string Name => name;

    public ILogger Logger => logger;

    public bool IsInitialized => _initialized;

    /// <summary>INIT succeeded.</summary>
    public void Start() => _initialized = true;

    /// <summary>DESTROY, or a device reset: every node but the root and every handle go; the next request must be INIT.</summary>
    public void End()
    {
        _initialized = false;
        fileSystem.Destroy();
    }
}
