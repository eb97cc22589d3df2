using System.IO.Hashing;
using System.Runtime.InteropServices;
using Lguest.Interop;
using Lguest.Memory;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Snapshot;

/// <summary>
/// Writes and reads a snapshot directory: the memory image, the state file, and the manifest that names both with
/// their checksums, written last and renamed into place, so an interrupted write leaves no snapshot that reads.
/// </summary>
public static class SnapshotDirectory
{
    /// <summary>
    /// Writes a snapshot of a paused machine into <paramref name="directory"/> (created if missing; a snapshot already
    /// there is replaced): guest RAM from <paramref name="memory"/>, the state <paramref name="sections"/>. Every file
    /// is on disk (fsync) when this returns.
    /// </summary>
    /// <exception cref="IOException">A file cannot be written.</exception>
    public static SnapshotManifest Write(string directory, GuestMemory memory, IReadOnlyList<SnapshotSection> sections)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentNullException.ThrowIfNull(memory);
        Directory.CreateDirectory(directory);
        string manifestPath = Path.Combine(directory, SnapshotFormat.ManifestFile);
        // The old manifest goes first: until the new one is in place the directory holds no snapshot that reads.
        File.Delete(manifestPath);
        SyncDirectory(directory);

        GuestMemoryImage image = memory.WriteImage(Path.Combine(directory, SnapshotFormat.MemoryFile));
        byte[] state = SnapshotStateFile.Encode(sections);
        WriteDurably(Path.Combine(directory, SnapshotFormat.StateFile), state);
        var manifest = new SnapshotManifest((ulong)state.Length, XxHash128.HashToUInt128(state), memory.Layout, image);
        string temporary = manifestPath + ".tmp";
        WriteDurably(temporary, manifest.Encode());
        File.Move(temporary, manifestPath, overwrite: true);
        SyncDirectory(directory);
        return manifest;
    }

    /// <summary>
    /// Reads and checks the snapshot in <paramref name="directory"/>: the manifest's checksum and version, the state
    /// file's length and checksum, and the state's structure. Guest RAM is checked when it is mapped
    /// (<see cref="SnapshotContents.MapMemory"/>). Nothing is mapped or run here.
    /// </summary>
    /// <exception cref="SnapshotException">A file is missing, truncated, damaged, or of another format version.</exception>
    public static SnapshotContents Read(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        SnapshotManifest manifest = SnapshotManifest.Parse(ReadFile(directory, SnapshotFormat.ManifestFile, SnapshotFormat.MaxManifestSize));
        if (manifest.StateSize > SnapshotFormat.MaxStateSize)
            throw new SnapshotException(SnapshotRefusal.Corrupt, $"the manifest names a state file of {manifest.StateSize} bytes, more than {SnapshotFormat.MaxStateSize}");
        byte[] state = ReadFile(directory, SnapshotFormat.StateFile, SnapshotFormat.MaxStateSize);
        if ((ulong)state.Length != manifest.StateSize)
            throw new SnapshotException((ulong)state.Length < manifest.StateSize ? SnapshotRefusal.Truncated : SnapshotRefusal.Corrupt,
                $"{Path.Combine(directory, SnapshotFormat.StateFile)} is {state.Length} bytes; the manifest says {manifest.StateSize}");
        if (XxHash128.HashToUInt128(state) != manifest.StateChecksum)
            throw new SnapshotException(SnapshotRefusal.Corrupt, $"{Path.Combine(directory, SnapshotFormat.StateFile)} does not match its checksum");
        return new SnapshotContents(directory, manifest, SnapshotStateFile.Parse(state));
    }

    private static byte[] ReadFile(string directory, string name, int maxLength)
    {
        string path = Path.Combine(directory, name);
        try
        {
            using SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            long length = RandomAccess.GetLength(file);
            if (length > maxLength)
                throw new SnapshotException(SnapshotRefusal.Corrupt, $"{path} is {length} bytes, more than a snapshot's {name} can be");
            byte[] bytes = new byte[length];
            int done = 0;
            while (done < bytes.Length)
            {
                int read = RandomAccess.Read(file, bytes.AsSpan(done), done);
                if (read <= 0)
                    throw new SnapshotException(SnapshotRefusal.Truncated, $"{path} ended while it was read");
                done += read;
            }
            return bytes;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new SnapshotException(SnapshotRefusal.Truncated, $"{path} is missing: {directory} is not a complete snapshot", e);
        }
    }

    private static void WriteDurably(string path, byte[] bytes)
    {
        File.Delete(path);
        using SafeFileHandle file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
        RandomAccess.Write(file, bytes, 0);
        RandomAccess.FlushToDisk(file);
    }

    // A rename or an unlink is durable once the directory itself is flushed.
    private static void SyncDirectory(string directory)
    {
        int fd = Libc.Open(directory, Libc.ODirectory | Libc.OCloexec);
        if (fd < 0)
            throw new IOException($"cannot open {directory}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        using var handle = new FileDescriptor(fd);
        if (Libc.Fsync(handle) != 0)
            throw new IOException($"cannot flush {directory}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }
}
