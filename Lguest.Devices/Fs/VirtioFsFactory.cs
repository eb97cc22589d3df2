using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// Makes the shared-folder device for each boot. The folder is opened at the first boot and kept open across
/// reboots (a rename of the host path cannot swap the share under a rebooting guest), and closed when the
/// container is disposed.
/// </summary>
internal sealed class VirtioFsFactory(VirtioFsOptions options, ILogger<VirtioFsDevice> logger) : IVirtioDeviceFactory, IDisposable
{
    private readonly Lock _lock = new();
    private IFileSystem? _fileSystem;

    public VirtioFsOptions Options => options;

    public IVirtioDevice Create(GuestMemory memory)
    {
        lock (_lock)
        {
            if (_fileSystem is null)
            {
                _fileSystem = VirtioFsDevice.OpenFileSystem(options, logger);
                logger.Sharing(options.Name ?? "fs", options.HostDirectory, options.Tag, options.ReadOnly ? ", read-only" : "");
            }
            return new VirtioFsDevice(memory, _fileSystem, options, logger);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _fileSystem?.Dispose();
            _fileSystem = null;
        }
    }
}
