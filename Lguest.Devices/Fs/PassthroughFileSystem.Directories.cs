using System.Buffers;
using System.Buffers.Binary;
using Lguest.Devices.Interop;

namespace Lguest.Devices;

// Open directories: OPENDIR, READDIR(PLUS)'s reading, RELEASEDIR, FSYNCDIR.
internal sealed partial class PassthroughFileSystem
{
    /// <summary>The getdents64 buffer of one READDIR: many entries per call, and bounded (the sink stops early).</summary>
    private const int DirentBufferSize = 32 * 1024;

    // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, then the NUL-terminated name.
    private const int DirentNameOffset = 19;

    public int OpenDirectory(ulong node, out ulong handle, out uint openFlags)
    {
        handle = 0;
        openFlags = 0;
        if (FindDirectory(node, out Inode inode) is int error and not 0)
            return error;
        const int Flags = FsLibc.ORdonly | FsLibc.ODirectory | FsLibc.OCloexec;
        if (Reopen(inode, Flags, out FsDescriptor descriptor) is int openError and not 0)
            return openError;
        return AddHandle(descriptor, inode, directory: true, Flags, out handle);
    }

    public int ReadDirectory(ulong handle, ulong offset, IDirectorySink sink)
    {
        if (!_handles.TryGet(handle, directory: true, out OpenHandle open))
            return Errno.EBADF;
        if (offset > long.MaxValue)
            return Errno.EINVAL;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(DirentBufferSize);
        try
        {
            // The position is the descriptor's: one READDIR at a time seeks and reads it. The offset is the
            // guest's; whatever it is, the host file system's own lseek decides where that lands.
            lock (open.DirectoryLock)
            {
                if (FsLibc.Lseek(open.Descriptor, (long)offset, FsLibc.SeekSet) < 0)
                    return LastErrno();
                // Ends at the directory's end or when the sink is full; every entry offered either takes room
                // in the reply or ends the call, so the walk is bounded by the reply's size.
                while (true)
                {
                    nint n = FsLibc.Getdents64(open.Descriptor, buffer, (nuint)DirentBufferSize);
                    if (n < 0)
                        return LastErrno();
                    if (n == 0)
                        return 0;
                    if (!Offer(buffer.AsSpan(0, (int)n), sink, out bool malformed))
                        return malformed ? Errno.EIO : 0;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public int ReleaseDirectory(ulong handle) => _handles.Remove(handle, directory: true) ? 0 : Errno.EBADF;

    public int FsyncDirectory(ulong handle, bool dataOnly)
    {
        if (!_handles.TryGet(handle, directory: true, out OpenHandle open))
            return Errno.EBADF;
        return Sync(open.Descriptor, dataOnly);
    }

    // Hands one getdents64 batch to the sink; false when the sink is full (or the batch is malformed).
    private static bool Offer(ReadOnlySpan<byte> batch, IDirectorySink sink, out bool malformed)
    {
        malformed = false;
        int position = 0;
        while (position < batch.Length)
        {
            ReadOnlySpan<byte> record = batch[position..];
            if (record.Length < DirentNameOffset + 1)
                break;
            int length = BinaryPrimitives.ReadUInt16LittleEndian(record[16..]);
            if (length < DirentNameOffset + 1 || length > record.Length)
            {
                malformed = true;
                return false;
            }
            ReadOnlySpan<byte> name = record[DirentNameOffset..length];
            int end = name.IndexOf((byte)0);
            if (end > 0)
                name = name[..end];
            if (!sink.TryAdd(BinaryPrimitives.ReadUInt64LittleEndian(record), BinaryPrimitives.ReadUInt64LittleEndian(record[8..]), record[18], name))
                return false;
            position += length;
        }
        return true;
    }
}
