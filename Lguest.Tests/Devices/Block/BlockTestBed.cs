using System.Buffers.Binary;
using Lguest.Devices;
using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;
using Microsoft.Win32.SafeHandles;

namespace Lguest.Tests.Devices.Block;

/// <summary>
/// A block device over a temporary image filled with a known pattern, in 16 MiB of real guest memory,
/// with a test driver on its request queue and a recording transport.
/// </summary>
internal sealed class BlockTestBed : IDisposable
{
    public const ulong DefaultFeatures = VirtioFeatures.RingIndirectDescriptors | VirtioFeatures.RingEventIndex | VirtioFeatures.Version1;

    private readonly SafeFileHandle _file;

    public BlockTestBed(bool readOnly = false, long imageBytes = 1 << 20, ushort queueSize = 64, ulong features = DefaultFeatures,
        bool activate = true, string? serial = null, Action<VirtioBlockOptions>? configure = null, string? folder = null)
    {
        ImagePath = System.IO.Path.Combine(folder ?? System.IO.Path.GetTempPath(), $"lguest-blk-{Guid.NewGuid():N}.img");
        Pattern = new byte[imageBytes];
        new Random(42).NextBytes(Pattern);
        File.WriteAllBytes(ImagePath, Pattern);
        Options = new VirtioBlockOptions { Path = ImagePath, ReadOnly = readOnly, QueueSize = queueSize, Serial = serial };
        configure?.Invoke(Options);
        _file = File.OpenHandle(ImagePath, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite, FileShare.ReadWrite);
        Memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(16 << 20));
        Arena = new GuestArena(new GuestAddress(1 << 20), 15 << 20);
        Driver = new VirtqueueDriver(Memory, 0, queueSize, features, new GuestAddress(0x10000), Arena);
        Device = new VirtioBlockDevice(Memory, _file, Options);
        Features = features;
        if (activate)
            Activate();
    }

    public string ImagePath { get; }

    public byte[] Pattern { get; }

    public VirtioBlockOptions Options { get; }

    public GuestMemory Memory { get; }

    public GuestArena Arena { get; }

    public VirtqueueDriver Driver { get; }

    public VirtioBlockDevice Device { get; }

    public RecordingVirtioTransport Transport { get; } = new();

    public ulong Features { get; }

    public SafeFileHandle Handle => _file;

    /// <summary>The queue of the last <see cref="Activate"/>.</summary>
    public Virtqueue? Queue { get; private set; }

    public void Activate()
    {
        Queue = Driver.CreateQueue("block0 vq 0");
        Device.Activate(new VirtioActivation(Features, [Queue], Transport));
    }

    /// <summary>Publishes the chains added and notifies as a transport delivers a vCPU's notification: <see cref="Virtqueue.Notify"/> on this thread.</summary>
    public void KickFromVcpu()
    {
        Driver.Publish();
        Queue!.Notify();
    }

    /// <summary>struct virtio_blk_req's header as a device-readable buffer.</summary>
    public DriverBuffer Header(uint type, ulong sector)
    {
        var header = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(header, type);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(8), sector);
        return Driver.Readable(header);
    }

    /// <summary>A one-byte status buffer, pre-filled with a value no status has.</summary>
    public DriverBuffer Status() => Driver.Writable(1, fill: 0xAA);

    /// <summary>Adds the chain, notifies, waits for it to come back; returns its used length.</summary>
    public uint Submit(params DriverBuffer[] buffers) => Submit(indirect: false, buffers);

    public uint Submit(bool indirect, params DriverBuffer[] buffers)
    {
        ushort head = Driver.Add(indirect, buffers);
        Driver.Kick();
        VringUsedElement used = Driver.WaitForUsed(Transport);
        Assert.That(used.Id, Is.EqualTo(head));
        return used.Length;
    }

    /// <summary>The status byte the device wrote: the last byte of <paramref name="status"/>.</summary>
    public byte StatusOf(DriverBuffer status) => Memory.Read<byte>(status.Address.Offset(status.Length - 1));

    /// <summary>The image as it is now, read through a separate descriptor.</summary>
    public byte[] ImageBytes()
    {
        using SafeFileHandle reader = File.OpenHandle(ImagePath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        var bytes = new byte[RandomAccess.GetLength(reader)];
        RandomAccess.Read(reader, bytes, 0);
        return bytes;
    }

    public byte[] PatternAt(ulong sector, int sectors) => Pattern.AsSpan((int)(sector * 512), sectors * 512).ToArray();

    public void Dispose()
    {
        Device.Reset();
        Driver.Dispose();
        Transport.Dispose();
        Memory.Dispose();
        _file.Dispose();
        File.Delete(ImagePath);
    }
}
