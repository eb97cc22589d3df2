using System.Buffers.Binary;
using System.Diagnostics;
using Lguest.Devices;
using Lguest.Fuzz.Fakes;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lguest.Fuzz.Targets;

/// <summary>
/// virtio-net transmit (virtio 1.2 §5.1.6.2): the input is the guest memory holding the transmit queue and
/// the offloads the driver accepted; the device's transmit code checks each chain and header and writes
/// the frames to a real tap (the host kernel checks them again). Malformed chains are dropped, the device
/// writes nothing but its used ring, and every used length is 0.
/// </summary>
/// <remarks>
/// Layout: byte 0 = the ring mode (<see cref="GuestRings.Mode"/>); byte 1 = accepted offloads: bit 0 CSUM,
/// 1 HOST_TSO4, 2 HOST_TSO6, 3 HOST_ECN, 4 HOST_UFO; the rest is RAM from 0. Needs CAP_NET_ADMIN for the tap:
/// fuzz/run.sh runs this target in a network namespace of its own.
/// </remarks>
public sealed class VirtioNetTransmitTarget : FuzzTarget, IDisposable
{
    private const int MemorySize = 0x10000;
    private static readonly ulong[] Offloads =
        [VirtioNetFeatures.Checksum, VirtioNetFeatures.HostTso4, VirtioNetFeatures.HostTso6, VirtioNetFeatures.HostEcn, VirtioNetFeatures.HostUfo];

    private readonly GuestMemory _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(MemorySize));
    private readonly byte[] _before = new byte[MemorySize];
    private readonly TapDevice _tap;
    private readonly EventNotifier _notifier = new();
    private readonly EventNotifier _stop = new();

    private VirtioNetTransmitTarget(TapDevice tap) => _tap = tap;

    /// <summary>The tap's interface name: bring it up (ip link set dev NAME up) so the host kernel takes the frames.</summary>
    public string TapName => _tap.Name;

    /// <inheritdoc />
    public override string Name => "virtio-net-tx";

    /// <inheritdoc />
    public override int MaxInputLength => 2 + 0x2000;

    /// <summary>Creates the target's tap in the calling thread's network namespace.</summary>
    /// <exception cref="LguestException">No tap can be created here (no /dev/net/tun, no CAP_NET_ADMIN).</exception>
    public static VirtioNetTransmitTarget Create() => new(TapDevice.Create("lgfuzz%d"));

    /// <summary>Brings the tap up with ip(8), for a process that is alone in its network namespace.</summary>
    public void BringUp()
    {
        using var ip = Process.Start(new ProcessStartInfo("ip", ["link", "set", "dev", TapName, "up"]) { UseShellExecute = false })
            ?? throw new InvalidOperationException("cannot start ip(8)");
        ip.WaitForExit();
        if (ip.ExitCode != 0)
            throw new InvalidOperationException($"ip link set dev {TapName} up failed with exit code {ip.ExitCode}");
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _tap.Dispose();
        _memory.Dispose();
        _notifier.Dispose();
        _stop.Dispose();
    }

    /// <inheritdoc />
    protected override void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzInput(input);
        (int size, ulong features) = GuestRings.Mode(reader.Byte());
        byte offloads = reader.Byte();
        for (int i = 0; i < Offloads.Length; i++)
        {
            if ((offloads & (1 << i)) != 0)
                features |= Offloads[i];
        }
        Span<byte> ram = _memory.GetSpan(GuestAddress.Zero, MemorySize);
        ram.Clear();
        reader.Bytes(MemorySize).CopyTo(ram);
        ram.CopyTo(_before);
        ushort usedIndexBefore = BinaryPrimitives.ReadUInt16LittleEndian(ram[(GuestRings.Used + 2)..]);

        var chains = GuestRings.Preview(_memory, size, features, 64);
        var queue = new Virtqueue(1, new Vring(_memory, "net vq 1", size, GuestRings.Addresses, features), _notifier);
        var transmitter = new NetTransmitter(_memory, queue, new FuzzVirtioTransport(), _tap, features, new VirtioNetCounters(), _stop, "net", NullLogger.Instance);
        _ = transmitter.ServeAvailable(out bool stopped);
        InvariantViolationException.ThrowUnless(!stopped, "the transmitter stopped without being asked to");
        // Transmit buffers are device-readable only: nothing but the used ring may change, and no used length is non-zero.
        for (int k = 0; k < chains.Count; k++)
            chains[k] = (chains[k].Head, [], 0);
        GuestRings.CheckWrites(ram, _before, size, usedIndexBefore, chains, allowBufferWrites: false);
    }

    /// <inheritdoc />
    public override IEnumerable<KeyValuePair<string, byte[]>> Seeds()
    {
        // Frames at 0x1000 + 0x400 * n: a 12-byte header then an Ethernet frame, one or two descriptors each.
        byte[] Memory(params (byte Flags, byte GsoType, int GsoSize, int CsumStart, int CsumOffset, int FrameLength, bool Split)[] frames)
        {
            var ram = new byte[0x1000 + 0x400 * frames.Length];
            int d = 0;
            for (int f = 0; f < frames.Length; f++)
            {
                var (flags, gsoType, gsoSize, csumStart, csumOffset, frameLength, split) = frames[f];
                int at = 0x1000 + 0x400 * f;
                ram[at] = flags;
                ram[at + 1] = gsoType;
                FuzzInputWriter.Put16(ram, at + 2, 14 + 20 + 20);
                FuzzInputWriter.Put16(ram, at + 4, gsoSize);
                FuzzInputWriter.Put16(ram, at + 6, csumStart);
                FuzzInputWriter.Put16(ram, at + 8, csumOffset);
                // Ethernet: broadcast destination, a local source, IPv4; then an IPv4/TCP-shaped body.
                ram.AsSpan(at + 12, 6).Fill(0xff);
                ram[at + 18] = 0x52; ram[at + 19] = 0x54; ram[at + 23] = 2;
                ram[at + 24] = 0x08; ram[at + 25] = 0x00;
                ram[at + 26] = 0x45; ram[at + 35] = 6;
                FuzzInputWriter.Put16(ram, at + 28, (ushort)((frameLength - 14) << 8 | (frameLength - 14) >> 8));
                FuzzInputWriter.Put16(ram, GuestRings.Available + 4 + 2 * f, d);
                if (split)
                {
                    FuzzInputWriter.PutDescriptor(ram, GuestRings.Descriptors, d, (ulong)at, 12, 1, d + 1);
                    FuzzInputWriter.PutDescriptor(ram, GuestRings.Descriptors, d + 1, (ulong)at + 12, (uint)frameLength, 0, 0);
                    d += 2;
                }
                else
                {
                    FuzzInputWriter.PutDescriptor(ram, GuestRings.Descriptors, d, (ulong)at, 12 + (uint)frameLength, 0, 0);
                    d++;
                }
            }
            FuzzInputWriter.Put16(ram, GuestRings.Available + 2, frames.Length);
            return ram;
        }
        byte[] Input(int mode, int offloads, byte[] ram) => new FuzzInputWriter().Byte(mode).Byte(offloads).Bytes(ram).ToArray();

        yield return new("plain-frames", Input(3, 0, Memory((0, 0, 0, 0, 0, 60, false), (0, 0, 0, 0, 0, 98, true))));
        yield return new("checksum-offload", Input(3 | 16, 1, Memory((1, 0, 0, 34, 16, 74, false))));
        yield return new("tso4-ecn", Input(3, 0x1f, Memory((1, 0x81, 1448, 34, 16, 1000, true))));
        yield return new("offload-not-negotiated", Input(3, 0, Memory((1, 4, 1400, 54, 16, 200, false), (0, 0, 0, 0, 0, 10, false))));
    }
}
