using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Devices;

/// <summary>
/// Makes the block device for each boot. The image is opened on the first boot and kept open across
/// reboots (so a reboot cannot lose it to a rename or a permission change), and closed when the
/// container is disposed.
/// </summary>
internal sealed class VirtioBlockFactory(VirtioBlockOptions options, ILogger<VirtioBlockDevice> logger) : IVirtioDeviceFactory, IDisposable
{
    private readonly Lock _lock = new();
    private SafeFileHandle? _file;

    public VirtioBlockOptions Options => options;

    public IVirtioDevice Create(GuestMemory memory)
    {
        lock (_lock)
        {
            _file ??= Open(options);
            return new VirtioBlockDevice(memory, _file, options, logger);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _file?.Dispose();
            _file = null;
        }
    }

    /// <summary>Opens the image as the options say: read-only, or read-write and locked against a second writer.</summary>
    /// <exception cref="DiskImageException">The image cannot be used.</exception>
    internal static SafeFileHandle Open(VirtioBlockOptions options)
    {
        string path = options.Path;
        if (Directory.Exists(path))
            throw new DiskImageException(path, "is a directory");
        SafeFileHandle file;
        try
        {
            // Read-write takes .NET's exclusive advisory lock (FileShare.None): two launchers writing one
            // image would corrupt it. Read-only shares with other readers.
            file = options.ReadOnly
                ? File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read)
                : File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        }
        catch (FileNotFoundException e)
        {
            throw new DiskImageException(path, "not found", e);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new DiskImageException(path, "not found", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new DiskImageException(path, options.ReadOnly ? "permission denied" : "permission denied (add the read-only option to use it read-only)", e);
        }
        catch (IOException e)
        {
            throw new DiskImageException(path, e.Message, e);
        }
        return file;
    }
}
