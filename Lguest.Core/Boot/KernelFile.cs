using Lguest.Memory;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Boot;

/// <summary>
/// A kernel or initrd opened for loading. Every host I/O failure becomes a <see cref="KernelImageException"/>
/// naming the file; bulk data goes straight from the file into guest memory (preadv), never through a
/// managed buffer.
/// </summary>
internal sealed class KernelFile : IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly bool _ownsHandle;

    private KernelFile(string path, SafeFileHandle handle, long length, bool ownsHandle)
    {
        Path = path;
        _handle = handle;
        Length = length;
        _ownsHandle = ownsHandle;
    }

    /// <summary>The path as the user gave it.</summary>
    public string Path { get; }

    /// <summary>The file's length when it was opened.</summary>
    public long Length { get; }

    /// <summary>Opens <paramref name="path"/> for reading.</summary>
    /// <exception cref="KernelImageException">The file is missing, unreadable, a directory or empty.</exception>
    public static KernelFile Open(string path) => Open(path, OpenHandle(path), ownsHandle: true);

    /// <summary>
    /// Uses <paramref name="handle"/>, opened earlier from <paramref name="path"/> (which names it in messages and
    /// need not resolve any more), without taking it over: disposing the result leaves it open.
    /// </summary>
    /// <exception cref="KernelImageException">The file is empty or its size cannot be read.</exception>
    public static KernelFile Open(string path, SafeFileHandle handle) => Open(path, handle, ownsHandle: false);

    /// <summary>Opens <paramref name="path"/> for reading, for a caller that keeps the file across loads.</summary>
    /// <exception cref="KernelImageException">The file is missing, unreadable or a directory.</exception>
    public static SafeFileHandle OpenHandle(string path)
    {
        if (Directory.Exists(path))
            throw new KernelImageException(path, "is a directory, not a kernel or initrd file");
        try
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new KernelImageException(path, "no such file", e);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new KernelImageException(path, "permission denied", e);
        }
        catch (IOException e)
        {
            throw new KernelImageException(path, $"cannot open: {e.Message}", e);
        }
    }

    private static KernelFile Open(string path, SafeFileHandle handle, bool ownsHandle)
    {
        try
        {
            long length = RandomAccess.GetLength(handle);
            if (length == 0)
                throw new KernelImageException(path, "is empty");
            return new KernelFile(path, handle, length, ownsHandle);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            if (ownsHandle)
                handle.Dispose();
            throw new KernelImageException(path, $"cannot read its size: {e.Message}", e);
        }
        catch
        {
            if (ownsHandle)
                handle.Dispose();
            throw;
        }
    }

    /// <summary>A refusal naming this file.</summary>
    public KernelImageException Refuse(string problem) => new(Path, problem);

    /// <summary>
    /// Reads <paramref name="destination"/>.Length bytes at <paramref name="offset"/>; the caller has
    /// checked they lie inside the file, so a short read means the file shrank.
    /// </summary>
    public void ReadExactly(long offset, Span<byte> destination)
    {
        try
        {
            while (!destination.IsEmpty)
            {
                int n = RandomAccess.Read(_handle, destination, offset);
                if (n == 0)
                    throw Refuse($"is truncated: it ended at 0x{offset:x} while being read");
                destination = destination[n..];
                offset += n;
            }
        }
        catch (IOException e)
        {
            throw new KernelImageException(Path, $"read failed at 0x{offset:x}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Reads [<paramref name="offset"/>, +<paramref name="length"/>) of the file straight into guest
    /// memory at <paramref name="address"/>. The caller has checked both ranges.
    /// </summary>
    public void LoadInto(GuestMemory memory, GuestAddress address, long offset, ulong length)
    {
        // A GuestBuffer is at most 4 GiB - 1; a 1 GiB step keeps each preadv far below the limits.
        const ulong Step = 1UL << 30;
        try
        {
            while (length > 0)
            {
                uint chunk = (uint)Math.Min(length, Step);
                long n = memory.ReadFromFile(_handle, offset, [new GuestBuffer(address, chunk)]);
                if (n != chunk)
                    throw Refuse($"is truncated: it ended at 0x{offset + n:x} while being loaded (it shrank after it was opened?)");
                address = new GuestAddress(address.Value + chunk);
                offset += chunk;
                length -= chunk;
            }
        }
        catch (IOException e)
        {
            throw new KernelImageException(Path, $"read failed at 0x{offset:x}: {e.Message}", e);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_ownsHandle)
            _handle.Dispose();
    }
}
