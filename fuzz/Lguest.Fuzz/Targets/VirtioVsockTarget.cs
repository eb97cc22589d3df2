using System.Buffers.Binary;
using System.Text;
using Lguest.Devices;
using Lguest.Fuzz.Fakes;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Fuzz.Targets;

/// <summary>
/// virtio-vsock (virtio 1.2 §5.10): the input is guest memory holding a transmit queue of packets and a receive
/// queue of buffers. The device's own workers serve them once each (transmit, then receive) against a host side
/// with an in-process listener on port 5000 and, if asked, a program connecting to guest port 52 and programs
/// writing to every connection they accepted. Checked: the device writes only the receive buffers and the used
/// rings; every packet it gives the guest is a well-formed header from the host's CID to the guest's, whose len
/// is what follows it; it never holds more connections, or bytes per connection, than its bounds.
/// </summary>
/// <remarks>
/// Layout: byte 0 = the ring mode (<see cref="GuestRings.Mode"/>; both queues) with bit 5 "a program connects to
/// guest port 52 first" and bit 6 "programs write to their connections, then the receive queue is served again";
/// byte 1 = bit 0 "the programs close their connections"; then RAM from 0 (<see cref="RamInput"/> bytes). The transmit
/// ring sits where the other device targets put theirs (0, 0x400, 0x600), the receive ring at 0xa00, 0xe00, 0x1000.
/// What follows the RAM is a hybrid vsock CONNECT line, parsed on its own.
/// </remarks>
public sealed class VirtioVsockTarget : FuzzTarget, IDisposable
{
    /// <summary>The port the in-process listener takes connections on.</summary>
    public const uint ListenPort = 5000;

    /// <summary>The guest port the program connects to (bit 5 of the mode).</summary>
    public const uint ConnectPort = 52;

    private const int MemorySize = 0x4000;
    private const int RamInput = 0x3000;
    private const int RxDescriptors = 0x0a00;
    private const int RxAvailable = 0x0e00;
    private const int RxUsed = 0x1000;

    private readonly GuestMemory _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MemorySize));
    private readonly byte[] _before = new byte[MemorySize];
    private readonly EventNotifier _txNotifier = new();
    private readonly EventNotifier _rxNotifier = new();

    /// <inheritdoc />
    public override string Name => "virtio-vsock";

    /// <inheritdoc />
    public override int MaxInputLength => 2 + RamInput + VsockConnectLine.MaxLength;

    private static VringAddresses RxAddresses => new(new GuestAddress(RxDescriptors), new GuestAddress(RxAvailable), new GuestAddress(RxUsed));

    /// <inheritdoc />
    public void Dispose()
    {
        _memory.Dispose();
        _txNotifier.Dispose();
        _rxNotifier.Dispose();
    }

    /// <inheritdoc />
    protected override void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzInput(input);
        byte mode = reader.Byte();
        byte host = reader.Byte();
        (int size, ulong features) = GuestRings.Mode(mode);
        Span<byte> ram = _memory.GetSpan(GuestAddress.Zero, MemorySize);
        ram.Clear();
        reader.Bytes(RamInput).CopyTo(ram);
        ram.CopyTo(_before);
        ParseConnectLine(reader.Rest);

        ushort rxUsedBefore = BinaryPrimitives.ReadUInt16LittleEndian(ram[(RxUsed + 2)..]);
        var rxChains = PreviewRx(size, features);
        var transport = new FuzzVirtioTransport();
        using var vsock = new VsockHost(new VirtioVsockOptions { GuestCid = 3 });
        using VsockListener listener = vsock.Listen(ListenPort, backlog: 4);
        var muxer = new VsockMuxer(3, vsock, TimeProvider.System, "vsock", NullLogger.Instance);
        try
        {
            vsock.Attach(muxer);
            var tx = new Virtqueue(1, new Vring(_memory, "vsock vq 1", size, GuestRings.Addresses, features), _txNotifier);
            var rx = new Virtqueue(0, new Vring(_memory, "vsock vq 0", size, RxAddresses, features), _rxNotifier);
            var transmitter = new VsockTransmitter(_memory, tx, transport, muxer);
            var receiver = new VsockReceiver(_memory, rx, transport, muxer);
            Task<VsockStream>? connect = (mode & 32) != 0 ? vsock.ConnectAsync(ConnectPort) : null;
            connect?.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
            try
            {
                _ = transmitter.ServeAvailable();
                _ = receiver.ServeAvailable();
                if ((mode & 64) != 0)
                {
                    Programs(listener, connect, close: (host & 1) != 0);
                    _ = receiver.ServeAvailable();
                }
            }
            finally
            {
                CheckBounds(muxer);
            }
        }
        finally
        {
            vsock.Detach(muxer);
            muxer.Dispose();
        }
        CheckWrites(ram, size, rxUsedBefore, rxChains);
    }

    // What the programs on the host do between the two passes: write to each connection, maybe close it.
    private static void Programs(VsockListener listener, Task<VsockStream>? connect, bool close)
    {
        var streams = new List<VsockStream>();
        while (true)
        {
            ValueTask<VsockStream> accept = listener.AcceptAsync();
            if (!accept.IsCompletedSuccessfully)
            {
                _ = accept.AsTask().ContinueWith(static t => _ = t.Exception, TaskScheduler.Default); // ends when the listener does
                break;
            }
            streams.Add(accept.Result);
        }
        if (connect is { IsCompletedSuccessfully: true })
            streams.Add(connect.Result);
        foreach (VsockStream stream in streams)
        {
            try
            {
                stream.Write("from a program on the host"u8); // far below the pipe's pause threshold: never waits
                if (close)
                    stream.Dispose();
            }
            catch (IOException)
            {
                // A connection the guest already reset.
            }
        }
    }

    private static void CheckBounds(VsockMuxer muxer)
    {
        (int connections, uint mostBuffered, int resets) = muxer.Census();
        InvariantViolationException.ThrowUnless(connections <= VsockMuxer.MaxConnections, $"{connections} connections, more than {VsockMuxer.MaxConnections}");
        InvariantViolationException.ThrowUnless(mostBuffered <= VsockConnection.BufferSize, $"a connection holds {mostBuffered} bytes, more than its {VsockConnection.BufferSize}");
        InvariantViolationException.ThrowUnless(resets <= VsockMuxer.MaxPendingResets, $"{resets} RSTs waiting, more than {VsockMuxer.MaxPendingResets}");
    }

    private static void ParseConnectLine(ReadOnlySpan<byte> line)
    {
        if (!VsockConnectLine.TryParse(line, out uint port, out string? error))
        {
            InvariantViolationException.ThrowUnless(error is not null, "a refused CONNECT line without a reason");
            return;
        }
        string text = Encoding.Latin1.GetString(line);
        InvariantViolationException.ThrowUnless(port != uint.MaxValue && text.EndsWith('\n') && text.StartsWith("CONNECT ", StringComparison.OrdinalIgnoreCase)
            && uint.Parse(text.AsSpan(8, text.Length - 9), System.Globalization.CultureInfo.InvariantCulture) == port,
            $"CONNECT line accepted with port {port}");
    }

    private List<(ushort Head, GuestBuffer[] Writable, ulong WritableLength)> PreviewRx(int size, ulong features)
    {
        var chains = new List<(ushort, GuestBuffer[], ulong)>();
        var shadow = new Vring(_memory, "preview", size, RxAddresses, features);
        var chain = new DescriptorChain();
        try
        {
            while (chains.Count < size && shadow.TryPop(chain))
                chains.Add((chain.Head, chain.Writable.ToArray(), chain.WritableLength));
        }
        catch (BadDriverException)
        {
        }
        return chains;
    }

    // RAM changes only in the two used rings and the receive chains' writable buffers; each packet given to the
    // guest is a header from the host to the guest followed by len bytes, in the chain popped in its turn.
    private void CheckWrites(ReadOnlySpan<byte> ram, int size, ushort rxUsedBefore, List<(ushort Head, GuestBuffer[] Writable, ulong WritableLength)> rxChains)
    {
        int rxUsedEnd = RxUsed + 4 + 8 * size + 2;
        if (rxChains.Any(c => c.Writable.Any(b => b.Length != 0 && b.Address.Value < (ulong)Math.Max(rxUsedEnd, GuestRings.UsedEnd(size))
                && b.Address.Value + b.Length > 0)))
        {
            // A receive buffer over the rings: the device rightly writes packets over descriptors or used elements.
            return;
        }
        var allowed = new bool[ram.Length];
        allowed.AsSpan(GuestRings.Used, GuestRings.UsedEnd(size) - GuestRings.Used).Fill(true);
        allowed.AsSpan(RxUsed, rxUsedEnd - RxUsed).Fill(true);
        foreach ((_, GuestBuffer[] writable, _) in rxChains)
        {
            foreach (GuestBuffer b in writable)
                allowed.AsSpan((int)b.Address.Value, (int)b.Length).Fill(true);
        }
        for (int i = 0; i < ram.Length; i++)
        {
            if (ram[i] != _before[i] && !allowed[i])
                throw new InvariantViolationException($"the device wrote guest memory at 0x{i:x}, outside the receive buffers and the used rings");
        }

        // Receive buffers that overlap each other: a later packet rightly overwrites an earlier one's header.
        var all = rxChains.SelectMany(c => c.Writable).Where(b => b.Length != 0).OrderBy(b => b.Address.Value).ToArray();
        bool overlapping = all.Zip(all.Skip(1)).Any(p => p.First.Address.Value + p.First.Length > p.Second.Address.Value);

        ushort usedIndex = BinaryPrimitives.ReadUInt16LittleEndian(ram[(RxUsed + 2)..]);
        int published = (ushort)(usedIndex - rxUsedBefore);
        InvariantViolationException.ThrowUnless(published <= rxChains.Count, $"{published} packets published in {rxChains.Count} receive chains");
        Span<byte> wire = stackalloc byte[VsockHeader.Size];
        for (int k = 0; k < published; k++)
        {
            int slot = RxUsed + 4 + 8 * ((rxUsedBefore + k) % size);
            uint id = BinaryPrimitives.ReadUInt32LittleEndian(ram[slot..]);
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(ram[(slot + 4)..]);
            (ushort head, GuestBuffer[] writable, ulong room) = rxChains[k];
            InvariantViolationException.ThrowUnless(id == head, $"packet {k} in descriptor {id}, not the head {head} popped");
            InvariantViolationException.ThrowUnless(length >= VsockHeader.Size && length <= room, $"packet {k}: {length} bytes in a {room}-byte chain");
            if (overlapping)
                continue;
            Gather(ram, writable, wire);
            VsockHeader header = VsockHeader.Read(wire);
            InvariantViolationException.ThrowUnless(header.SourceCid == VsockHeader.HostCid && header.DestinationCid == 3 && header.Type == VsockHeader.TypeStream,
                $"packet {k} is not a stream packet from the host to the guest: {header}");
            InvariantViolationException.ThrowUnless(header.Op is >= (ushort)VsockOp.Request and <= (ushort)VsockOp.CreditRequest, $"packet {k} has op {header.Op}");
            InvariantViolationException.ThrowUnless(length == VsockHeader.Size + header.Length && header.Length <= VsockPacket.MaxPayload,
                $"packet {k}: used length {length} for len {header.Length}");
            InvariantViolationException.ThrowUnless(header.Op == (ushort)VsockOp.ReadWrite || header.Length == 0, $"packet {k}: op {header.Op} with a payload");
        }
    }

    private static void Gather(ReadOnlySpan<byte> ram, GuestBuffer[] buffers, Span<byte> into)
    {
        int done = 0;
        foreach (GuestBuffer b in buffers)
        {
            int n = (int)Math.Min(b.Length, (uint)(into.Length - done));
            ram.Slice((int)b.Address.Value, n).CopyTo(into[done..]);
            done += n;
            if (done == into.Length)
                return;
        }
    }

    /// <inheritdoc />
    public override IEnumerable<KeyValuePair<string, byte[]>> Seeds()
    {
        // Queues of 16 (mode 4); transmit packets at 0x2000 (one buffer each, header and payload), receive buffers
        // of 64 + 44 bytes at 0x2800.
        byte[] Memory(int rxBuffers, params (ushort Op, uint GuestPort, uint HostPort, byte[] Payload, uint Flags)[] packets) =>
            MemoryWith(rxBuffers, 64, packets);
        byte[] MemoryWith(int rxBuffers, int rxPayload, params (ushort Op, uint GuestPort, uint HostPort, byte[] Payload, uint Flags)[] packets)
        {
            var ram = new byte[RamInput];
            int at = 0x2000;
            for (int i = 0; i < packets.Length; i++)
            {
                (ushort op, uint guestPort, uint hostPort, byte[] payload, uint flags) = packets[i];
                var header = new VsockHeader
                {
                    SourceCid = 3, DestinationCid = 2, SourcePort = guestPort, DestinationPort = hostPort, Length = (uint)payload.Length,
                    Type = 1, Op = op, Flags = flags, BufferAllocation = 4096, ForwardCount = 0,
                };
                header.Write(ram.AsSpan(at));
                payload.CopyTo(ram.AsSpan(at + VsockHeader.Size));
                FuzzInputWriter.PutDescriptor(ram, GuestRings.Descriptors, i, (ulong)at, (uint)(VsockHeader.Size + payload.Length), 0, 0);
                FuzzInputWriter.Put16(ram, GuestRings.Available + 4 + 2 * i, i);
                at += (VsockHeader.Size + payload.Length + 15) & ~15;
            }
            FuzzInputWriter.Put16(ram, GuestRings.Available + 2, packets.Length);
            for (int i = 0; i < rxBuffers; i++)
            {
                FuzzInputWriter.PutDescriptor(ram, RxDescriptors, i, 0x2800 + 0x80UL * (ulong)i, (uint)(rxPayload + VsockHeader.Size), 2, 0);
                FuzzInputWriter.Put16(ram, RxAvailable + 4 + 2 * i, i);
            }
            FuzzInputWriter.Put16(ram, RxAvailable + 2, rxBuffers);
            return ram;
        }
        byte[] Input(int mode, int host, byte[] ram, string line = "CONNECT 52\n") =>
            new FuzzInputWriter().Byte(mode).Byte(host).Bytes(ram).Bytes(Encoding.ASCII.GetBytes(line)).ToArray();
        const ushort Request = 1, Response = 2, Rst = 3, Shutdown = 4, Rw = 5, CreditUpdate = 6, CreditRequest = 7;

        yield return new("connect-send-close", Input(4 | 64, 0, Memory(8,
            (Request, 1025, ListenPort, [], 0), (Rw, 1025, ListenPort, [1, 2, 3, 4], 0), (CreditRequest, 1025, ListenPort, [], 0),
            (Shutdown, 1025, ListenPort, [], 3))));
        yield return new("refused-and-unknown", Input(4, 0, Memory(8,
            (Request, 1026, 7777, [], 0), (Rw, 1027, ListenPort, [9], 0), (Rst, 1028, ListenPort, [], 0), (CreditUpdate, 1029, 1, [], 0))));
        yield return new("host-connects", Input(4 | 32 | 64, 1, Memory(8,
            (Response, ConnectPort, VsockMuxer.FirstLocalPort, [], 0), (Rw, ConnectPort, VsockMuxer.FirstLocalPort, [5, 6], 0),
            (Shutdown, ConnectPort, VsockMuxer.FirstLocalPort, [], 2))));
        yield return new("program-closes", Input(4 | 64, 1, Memory(4, (Request, 1030, ListenPort, [], 0)), "connect 4294967294\n"));
        // A program's 26 bytes read into several 8-byte receive buffers at once, and into buffers with room for a
        // header only (they carry credit updates, never data).
        yield return new("small-receive-buffers", Input(4 | 64, 0, MemoryWith(8, 8, (Request, 1032, ListenPort, [], 0))));
        yield return new("header-only-receive-buffers", Input(4 | 64, 0, MemoryWith(8, 0, (Request, 1033, ListenPort, [], 0))));
        yield return new("no-receive-buffers", Input(4, 0, Memory(0,
            (Request, 1031, ListenPort, [], 0), (Request, 1031, ListenPort, [], 0), (Rst, 1031, ListenPort, [], 0)), "CONNECT x\n"));
    }
}
