using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Lguest.Devices;
using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Devices.Fs;

/// <summary>
/// The guest's FUSE client in miniature: a virtio-fs device over a host folder, activated on real guest memory
/// with both queues, and requests built as Linux's virtio-fs driver lays them out (the in header and arguments
/// in one readable buffer, data pages after; the out header and result in writable buffers), one at a time.
/// </summary>
internal sealed class FuseTestClient : IDisposable
{
    public const ulong Features = VirtioFeatures.RingIndirectDescriptors | VirtioFeatures.RingEventIndex | VirtioFeatures.Version1;

    private readonly GuestMemory _memory;
    private readonly GuestArena _arena;
    private ulong _unique = 1;

    public FuseTestClient(string folder, Action<VirtioFsOptions>? configure = null, bool initialize = true)
    {
        var options = new VirtioFsOptions { HostDirectory = folder, Tag = "share", QueueSize = 256 };
        configure?.Invoke(options);
        _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(32 << 20));
        _arena = new GuestArena(new GuestAddress(1 << 20), 30 << 20);
        HighPriority = new VirtqueueDriver(_memory, 0, options.QueueSize, Features, new GuestAddress(0x10000), _arena);
        Requests = new VirtqueueDriver(_memory, 1, options.QueueSize, Features, new GuestAddress(0x40000), _arena);
        Transport = new RecordingVirtioTransport();
        Device = new VirtioFsDevice(_memory, options);
        Device.Activate(new VirtioActivation(Features, [HighPriority.CreateQueue("fs hiprio"), Requests.CreateQueue("fs request")], Transport));
        if (initialize)
            Assert.That(Init().Major, Is.EqualTo(7u));
    }

    public VirtqueueDriver HighPriority { get; }

    public VirtqueueDriver Requests { get; }

    public RecordingVirtioTransport Transport { get; }

    public VirtioFsDevice Device { get; }

    public GuestMemory Memory => _memory;

    /// <summary>
    /// As a restore does: the device reset, given a snapshot's state (<see cref="IVirtioDevice.RestoreState"/>), then
    /// activated again on the same rings, which carry on from their used index.
    /// </summary>
    public void Restore(byte[] state)
    {
        Device.Reset();
        Device.RestoreState(state);
        Device.Activate(new VirtioActivation(Features, [HighPriority.CreateQueue("fs hiprio"), Requests.CreateQueue("fs request")], Transport));
    }

    /// <summary>Sends one request on the request queue and waits for its reply.</summary>
    public FuseReply Send(FuseOpcode opcode, ulong node, ReadOnlySpan<byte> arguments, int replyBytes = 4096, ReadOnlySpan<byte> data = default, uint? length = null)
    {
        var header = new FuseInHeader
        {
            Length = length ?? (uint)(FuseConstants.InHeaderSize + arguments.Length + data.Length),
            Opcode = (uint)opcode,
            Unique = _unique++,
            NodeId = node,
        };
        byte[] request = [.. Bytes(header), .. arguments];
        var buffers = new List<DriverBuffer> { Requests.Readable(request) };
        if (!data.IsEmpty)
            buffers.Add(Requests.Readable(data));
        DriverBuffer outHeader = Requests.Writable(FuseConstants.OutHeaderSize);
        buffers.Add(outHeader);
        DriverBuffer? body = replyBytes > 0 ? Requests.Writable((uint)replyBytes) : null;
        if (body is { } b)
            buffers.Add(b);
        return Exchange(buffers, outHeader, body, header.Unique);
    }

    /// <summary>Sends hand-made buffers on the request queue and waits for the used element.</summary>
    public FuseReply Exchange(List<DriverBuffer> buffers, DriverBuffer? outHeader, DriverBuffer? body, ulong unique = 0)
    {
        ushort head = Requests.Add(indirect: true, [.. buffers]);
        Requests.Kick();
        VringUsedElement used = Requests.WaitForUsed(Transport);
        Assert.That(used.Id, Is.EqualTo(head));
        var reply = new FuseReply(used.Length,
            outHeader is { } h ? MemoryMarshal.Read<FuseOutHeader>(Requests.ReadBuffer(h)) : default,
            body is { } b ? Requests.ReadBuffer(b) : []);
        if (outHeader is not null && used.Length >= FuseConstants.OutHeaderSize)
            Assert.That(reply.Header.Unique, Is.EqualTo(unique), "the reply names the request");
        _arena.Reset();
        return reply;
    }

    /// <summary>Sends a request that has no reply (FORGET) on the high-priority queue and waits for it to be used.</summary>
    public uint SendHighPriority(FuseOpcode opcode, ulong node, ReadOnlySpan<byte> arguments)
    {
        var header = new FuseInHeader { Length = (uint)(FuseConstants.InHeaderSize + arguments.Length), Opcode = (uint)opcode, Unique = _unique++, NodeId = node };
        HighPriority.Add(HighPriority.Readable([.. Bytes(header), .. arguments]));
        HighPriority.Kick();
        uint used = HighPriority.WaitForUsed(Transport).Length;
        _arena.Reset();
        return used;
    }

    public FuseInitOut Init(uint minor = FuseConstants.KernelMinorVersion, uint flags = 0x7fffffff)
    {
        FuseReply reply = Send(FuseOpcode.Init, 0, Bytes(new FuseInitIn { Major = 7, Minor = minor, MaxReadahead = 1 << 17, Flags = flags }));
        Assert.That(reply.Error, Is.Zero, "INIT");
        return reply.Read<FuseInitOut>();
    }

    public int Lookup(ulong parent, string name, out FuseEntryOut entry) => Entry(Send(FuseOpcode.Lookup, parent, Name(name)), out entry);

    public ulong LookupOk(ulong parent, string name)
    {
        Assert.That(Lookup(parent, name, out FuseEntryOut entry), Is.Zero, $"LOOKUP {name}");
        return entry.NodeId;
    }

    public int Create(ulong parent, string name, uint flags, uint mode, out FuseEntryOut entry, out ulong handle)
    {
        FuseReply reply = Send(FuseOpcode.Create, parent, [.. Bytes(new FuseCreateIn { Flags = flags, Mode = mode }), .. Name(name)]);
        entry = default;
        handle = 0;
        if (reply.Error != 0)
            return reply.Error;
        entry = reply.Read<FuseEntryOut>();
        handle = MemoryMarshal.Read<FuseOpenOut>(reply.Body.AsSpan(Unsafe.SizeOf<FuseEntryOut>())).Handle;
        return 0;
    }

    public int Open(ulong node, uint flags, out ulong handle, FuseOpcode opcode = FuseOpcode.Open)
    {
        FuseReply reply = Send(opcode, node, Bytes(new FuseOpenIn { Flags = flags }));
        handle = reply.Error == 0 ? reply.Read<FuseOpenOut>().Handle : 0;
        return reply.Error;
    }

    public int Write(ulong handle, ulong offset, byte[] data, out uint written)
    {
        FuseReply reply = Send(FuseOpcode.Write, 0, Bytes(new FuseWriteIn { Handle = handle, Offset = offset, Size = (uint)data.Length }), data: data);
        written = reply.Error == 0 ? reply.Read<FuseWriteOut>().Size : 0;
        return reply.Error;
    }

    public int Read(ulong handle, ulong offset, uint size, out byte[] data)
    {
        FuseReply reply = Send(FuseOpcode.Read, 0, Bytes(new FuseReadIn { Handle = handle, Offset = offset, Size = size }), replyBytes: (int)size);
        data = reply.Error == 0 ? reply.Body[..(int)(reply.Header.Length - FuseConstants.OutHeaderSize)] : [];
        return reply.Error;
    }

    public int Release(ulong handle, FuseOpcode opcode = FuseOpcode.Release) => Send(opcode, 0, Bytes(new FuseReleaseIn { Handle = handle })).Error;

    public int GetAttributes(ulong node, out FuseAttr attr)
    {
        FuseReply reply = Send(FuseOpcode.Getattr, node, Bytes(new FuseGetattrIn()));
        attr = reply.Error == 0 ? reply.Read<FuseAttrOut>().Attr : default;
        return reply.Error;
    }

    public int Mkdir(ulong parent, string name, uint mode, out FuseEntryOut entry) =>
        Entry(Send(FuseOpcode.Mkdir, parent, [.. Bytes(new FuseMkdirIn { Mode = mode }), .. Name(name)]), out entry);

    public int Symlink(ulong parent, string name, string target, out FuseEntryOut entry) =>
        Entry(Send(FuseOpcode.Symlink, parent, [.. Name(name), .. Name(target)]), out entry);

    public int Link(ulong node, ulong newParent, string name, out FuseEntryOut entry) =>
        Entry(Send(FuseOpcode.Link, newParent, [.. Bytes(new FuseLinkIn { OldNodeId = node }), .. Name(name)]), out entry);

    public int Rename(ulong parent, string name, ulong newParent, string newName, uint flags = 0) =>
        Send(FuseOpcode.Rename2, parent, [.. Bytes(new FuseRename2In { NewDirectory = newParent, Flags = flags }), .. Name(name), .. Name(newName)]).Error;

    /// <summary>Every entry of a directory through READDIR (or READDIRPLUS), following the offsets as the guest does.</summary>
    public List<(string Name, uint Type, ulong Node)> ReadDirectory(ulong node, bool plus = false, uint size = 4096)
    {
        Assert.That(Open(node, 0, out ulong handle, FuseOpcode.Opendir), Is.Zero, "OPENDIR");
        var entries = new List<(string, uint, ulong)>();
        ulong offset = 0;
        for (int round = 0; round < 10_000; round++)
        {
            FuseReply reply = Send(plus ? FuseOpcode.Readdirplus : FuseOpcode.Readdir, node,
                Bytes(new FuseReadIn { Handle = handle, Offset = offset, Size = size }), replyBytes: (int)size);
            Assert.That(reply.Error, Is.Zero, "READDIR");
            ReadOnlySpan<byte> body = reply.Body.AsSpan(0, (int)(reply.Header.Length - FuseConstants.OutHeaderSize));
            if (body.IsEmpty)
                break;
            while (!body.IsEmpty)
            {
                ulong nodeId = 0;
                if (plus)
                {
                    nodeId = MemoryMarshal.Read<FuseEntryOut>(body).NodeId;
                    body = body[Unsafe.SizeOf<FuseEntryOut>()..];
                }
                FuseDirent dirent = MemoryMarshal.Read<FuseDirent>(body);
                string name = Encoding.UTF8.GetString(body.Slice(FuseConstants.DirentSize, (int)dirent.NameLength));
                entries.Add((name, dirent.Type, nodeId));
                offset = dirent.Offset;
                int size8 = (FuseConstants.DirentSize + (int)dirent.NameLength + 7) & ~7;
                body = body[size8..];
            }
        }
        Assert.That(Release(handle, FuseOpcode.Releasedir), Is.Zero, "RELEASEDIR");
        return entries;
    }

    public void Forget(ulong node, ulong lookups) =>
        Assert.That(SendHighPriority(FuseOpcode.Forget, node, Bytes(new FuseForgetIn { Lookups = lookups })), Is.Zero);

    public static byte[] Name(string name) => [.. Encoding.UTF8.GetBytes(name), 0];

    public static byte[] Bytes<T>(in T value) where T : unmanaged => MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)).ToArray();

    public void Dispose()
    {
        Device.Dispose();
        HighPriority.Dispose();
        Requests.Dispose();
        Transport.Dispose();
        _memory.Dispose();
    }

    private static int Entry(FuseReply reply, out FuseEntryOut entry)
    {
        entry = reply.Error == 0 ? reply.Read<FuseEntryOut>() : default;
        return reply.Error;
    }
}

/// <summary>One reply: the used length, the out header and the bytes of the body buffer.</summary>
internal readonly record struct FuseReply(uint Used, FuseOutHeader Header, byte[] Body)
{
    /// <summary>The errno (positive) the reply carries, 0 for success.</summary>
    public int Error => -Header.Error;

    public T Read<T>() where T : unmanaged => MemoryMarshal.Read<T>(Body);
}
