using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// One queue's FUSE server (virtio 1.2 §5.11.6): the one place a request is parsed. Each chain's
/// device-readable part is a request (struct fuse_in_header, the opcode's arguments, a WRITE's data), its
/// device-writable part takes the reply (struct fuse_out_header, then the opcode's result, a READ's data).
/// The header and arguments are copied once into a host buffer and checked there (the guest cannot change
/// them afterwards); READ and WRITE data goes between the guest's buffers and the file with vectored I/O.
/// Anything malformed is answered with an errno; only a chain that cannot carry an answer at all (shorter
/// than fuse_in_header, or no room for fuse_out_header) is the driver's fault.
/// </summary>
/// <remarks>Driven by one thread at a time (its queue's worker); the session and file system behind it are shared.</remarks>
internal sealed partial class FuseServer
{
    /// <summary>
    /// max_write, and the most one READ returns: 1 MiB, 256 pages, which is FUSE_MAX_MAX_PAGES and what a
    /// queue of <see cref="VirtioFsOptions.DefaultQueueSize"/> lets the guest's virtio-fs driver send.
    /// </summary>
    public const int MaxTransferBytes = 1 << 20;

    /// <summary>max_pages announced at INIT (4 KiB pages of <see cref="MaxTransferBytes"/>).</summary>
    public const ushort MaxPages = MaxTransferBytes / 4096;

    /// <summary>
    /// The most argument bytes (after fuse_in_header) copied for a request other than WRITE: SYMLINK's name and
    /// target (NAME_MAX + PATH_MAX, both with their NUL) is the longest; anything longer gets E2BIG.
    /// </summary>
    public const int MaxArgumentBytes = 8192;

    /// <summary>The most bytes of one READDIR or READDIRPLUS reply (the guest's kernel asks for a page or a few).</summary>
    public const int MaxDirectoryReplyBytes = 128 * 1024;

    /// <summary>The most fuse_forget_one records one BATCH_FORGET is read for; later ones are ignored (the node stays, bounded by the cap).</summary>
    public const int MaxBatchForget = 65536;

    private readonly FuseSession _session;
    private readonly IFileSystem _fs;
    private readonly GuestMemory _memory;
    private readonly string _name;
    private readonly ILogger _logger;
    private readonly byte[] _request = new byte[FuseConstants.InHeaderSize + MaxArgumentBytes];
    private readonly byte[] _reply = new byte[MaxDirectoryReplyBytes];
    // One entry per descriptor a chain can have: the ring refuses chains longer than the queue.
    private readonly GuestBuffer[] _scatter;
    private readonly DirectoryReply _directory;

    /// <summary>Creates a server for one queue of <paramref name="queueSize"/> descriptors.</summary>
    public FuseServer(FuseSession session, GuestMemory memory, int queueSize)
    {
        _session = session;
        _fs = session.FileSystem;
        _memory = memory;
        _name = session.Name;
        _logger = session.Logger;
        _scatter = new GuestBuffer[queueSize];
        _directory = new DirectoryReply(_fs);
    }

    /// <summary>
    /// Serves the request in <paramref name="chain"/> and returns the bytes written to its writable part
    /// (0 for FORGET and BATCH_FORGET, which have no reply).
    /// </summary>
    /// <exception cref="BadDriverException">The chain cannot hold a request header, or a reply header for a request that needs one.</exception>
    public uint Serve(DescriptorChain chain)
    {
        ArgumentNullException.ThrowIfNull(chain);
        Span<byte> headerBytes = _request.AsSpan(0, FuseConstants.InHeaderSize);
        if (chain.CopyFromReadable(_memory, 0, headerBytes) < FuseConstants.InHeaderSize)
            throw new BadDriverException(_name, $"a request of {chain.ReadableLength} bytes is shorter than fuse_in_header");
        FuseInHeader header = MemoryMarshal.Read<FuseInHeader>(headerBytes);
        var opcode = (FuseOpcode)header.Opcode;
        // The length the header claims must be inside what the chain holds: every argument is read from
        // there, and the data of a WRITE is what lies after its arguments.
        bool lengthValid = header.Length >= FuseConstants.InHeaderSize && header.Length <= chain.ReadableLength;
        if (opcode is FuseOpcode.Forget or FuseOpcode.BatchForget)
        {
            if (lengthValid && _session.IsInitialized)
                Forget(chain, header, opcode);
            return 0;
        }
        if (chain.WritableLength < FuseConstants.OutHeaderSize)
            throw new BadDriverException(_name, $"{Describe(header.Opcode)} request with {chain.WritableLength} writable bytes: no room for fuse_out_header");
        if (!lengthValid)
            return Refuse(chain, header, Errno.EINVAL, $"fuse_in_header.len {header.Length} outside 40..{chain.ReadableLength}");
        if (!_session.IsInitialized && opcode != FuseOpcode.Init)
            return Refuse(chain, header, Errno.EIO, "before INIT");
        if (!IsServed(opcode))
            return Reply(chain, header.Unique, Errno.ENOSYS);

        // The arguments, copied once. A WRITE's data stays in guest memory; only its fuse_write_in is copied.
        uint argumentLength = header.Length - FuseConstants.InHeaderSize;
        if (opcode == FuseOpcode.Write)
            argumentLength = Math.Min(argumentLength, FuseConstants.WriteInSize);
        if (argumentLength > MaxArgumentBytes)
            return Refuse(chain, header, Errno.E2BIG, $"{argumentLength} argument bytes");
        Span<byte> arguments = _request.AsSpan(FuseConstants.InHeaderSize, (int)argumentLength);
        chain.CopyFromReadable(_memory, FuseConstants.InHeaderSize, arguments);
        try
        {
            return Dispatch(chain, header, opcode, arguments);
        }
        catch (ObjectDisposedException)
        {
            // The node was forgotten, or the handle released, by a request on another queue while this one used it.
            return Reply(chain, header.Unique, Errno.EBADF);
        }
    }

    private static bool IsServed(FuseOpcode opcode) => opcode is FuseOpcode.Init or FuseOpcode.Destroy or FuseOpcode.Lookup
        or FuseOpcode.Getattr or FuseOpcode.Setattr or FuseOpcode.Readlink or FuseOpcode.Symlink or FuseOpcode.Mknod
        or FuseOpcode.Mkdir or FuseOpcode.Unlink or FuseOpcode.Rmdir or FuseOpcode.Rename or FuseOpcode.Rename2
        or FuseOpcode.Link or FuseOpcode.Open or FuseOpcode.Read or FuseOpcode.Write or FuseOpcode.Statfs
        or FuseOpcode.Release or FuseOpcode.Fsync or FuseOpcode.Flush or FuseOpcode.Opendir or FuseOpcode.Readdir
        or FuseOpcode.Readdirplus or FuseOpcode.Releasedir or FuseOpcode.Fsyncdir or FuseOpcode.Access
        or FuseOpcode.Create or FuseOpcode.Fallocate or FuseOpcode.Lseek;

    private static string Describe(uint opcode) =>
        Enum.IsDefined((FuseOpcode)opcode) ? ((FuseOpcode)opcode).ToString().ToUpperInvariant() : $"opcode {opcode}";

    /// <summary>Reads a fixed-size argument off the front of <paramref name="arguments"/>; false when they are too short.</summary>
    private static bool TryTake<T>(ref ReadOnlySpan<byte> arguments, out T value) where T : unmanaged
    {
        int size = Unsafe.SizeOf<T>();
        if (arguments.Length < size)
        {
            value = default;
            return false;
        }
        value = MemoryMarshal.Read<T>(arguments);
        arguments = arguments[size..];
        return true;
    }

    private uint Refuse(DescriptorChain chain, in FuseInHeader header, int errno, string reason)
    {
        _logger.Refused(_name, header.Opcode, reason);
        return Reply(chain, header.Unique, errno);
    }

    /// <summary>A reply of the out header alone: success (0) or an error.</summary>
    private uint Reply(DescriptorChain chain, ulong unique, int errno)
    {
        var header = new FuseOutHeader { Length = FuseConstants.OutHeaderSize, Error = -errno, Unique = unique };
        chain.CopyToWritable(_memory, 0, MemoryMarshal.AsBytes(new ReadOnlySpan<FuseOutHeader>(in header)));
        return FuseConstants.OutHeaderSize;
    }

    /// <summary>A successful reply carrying <paramref name="value"/>, or ERANGE when the guest left no room for it.</summary>
    private uint Reply<T>(DescriptorChain chain, ulong unique, in T value) where T : unmanaged =>
        Reply(chain, unique, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));

    private uint Reply(DescriptorChain chain, ulong unique, ReadOnlySpan<byte> body)
    {
        uint length = (uint)(FuseConstants.OutHeaderSize + body.Length);
        if (length > chain.WritableLength)
            return Reply(chain, unique, Errno.ERANGE);
        var header = new FuseOutHeader { Length = length, Unique = unique };
        chain.CopyToWritable(_memory, 0, MemoryMarshal.AsBytes(new ReadOnlySpan<FuseOutHeader>(in header)));
        chain.CopyToWritable(_memory, FuseConstants.OutHeaderSize, body);
        return length;
    }

    /// <summary>The answer to a request that returns an entry: the entry, or the error.</summary>
    private uint ReplyEntry(DescriptorChain chain, ulong unique, int errno, in FuseEntryOut entry) =>
        errno == 0 ? Reply(chain, unique, entry) : Reply(chain, unique, errno);

    private uint ReplyAttributes(DescriptorChain chain, ulong unique, int errno, in FuseAttrOut attributes) =>
        errno == 0 ? Reply(chain, unique, attributes) : Reply(chain, unique, errno);

    private uint ReplyOpen(DescriptorChain chain, ulong unique, int errno, ulong handle, uint openFlags) =>
        errno == 0 ? Reply(chain, unique, new FuseOpenOut { Handle = handle, OpenFlags = openFlags }) : Reply(chain, unique, errno);

    // FORGET and BATCH_FORGET: no reply, so a malformed one is simply dropped.
    private void Forget(DescriptorChain chain, in FuseInHeader header, FuseOpcode opcode)
    {
        Span<byte> bytes = stackalloc byte[16 * 64];
        if (opcode == FuseOpcode.Forget)
        {
            if (header.Length < FuseConstants.InHeaderSize + 8 || chain.CopyFromReadable(_memory, FuseConstants.InHeaderSize, bytes[..8]) < 8)
                return;
            _fs.Forget(header.NodeId, MemoryMarshal.Read<FuseForgetIn>(bytes).Lookups);
            return;
        }
        if (chain.CopyFromReadable(_memory, FuseConstants.InHeaderSize, bytes[..8]) < 8)
            return;
        uint count = MemoryMarshal.Read<FuseBatchForgetIn>(bytes).Count;
        const uint Head = FuseConstants.InHeaderSize + 8;
        uint present = header.Length >= Head ? (header.Length - Head) / 16 : 0;
        count = (uint)Math.Min(Math.Min(count, present), MaxBatchForget);
        ulong offset = Head;
        // Blocks of 64 records: one pass over the chain's buffers per block, not per record.
        for (uint done = 0; done < count;)
        {
            int block = (int)Math.Min(64, count - done);
            int copied = chain.CopyFromReadable(_memory, offset, bytes[..(16 * block)]);
            ReadOnlySpan<FuseForgetOne> records = MemoryMarshal.Cast<byte, FuseForgetOne>(bytes[..copied]);
            foreach (FuseForgetOne record in records)
                _fs.Forget(record.NodeId, record.Lookups);
            if (records.Length < block)
                return;
            done += (uint)block;
            offset += 16UL * (uint)block;
        }
    }
}
