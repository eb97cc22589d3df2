using System.Buffers.Binary;
using Lguest.Hypervisor;
using Lguest.Memory;
using Lguest.Pci;
using Lguest.Tests.Support;
using Lguest.Virtio;
using static Lguest.Virtio.VirtioPciCommonConfig;

namespace Lguest.Tests.Virtio;

// A hostile driver: register accesses of random widths at random and interesting offsets, in random order,
// through the BAR and through configuration space, with the device popping whatever the rings hold. Only
// our own exception types may come out (none at all unless strict), and the device never receives a ring
// outside guest memory.
public class VirtioPciTransportRandomizedTests
{
    private const int Steps = 20_000;

    private static readonly int[] InterestingBarOffsets =
    [
        DeviceFeatureSelect, DeviceFeature, DriverFeatureSelect, DriverFeature, ConfigMsixVector, NumQueues, DeviceStatus,
        ConfigGeneration, QueueSelect, QueueSize, QueueMsixVector, QueueEnable, QueueNotifyOff, QueueDesc, QueueDesc + 4,
        QueueDriver, QueueDriver + 4, QueueDevice, QueueDevice + 4, Size, 0xffc,
        VirtioPciTransport.IsrOffset, VirtioPciTransport.IsrOffset + 1,
        VirtioPciTransport.DeviceConfigOffset, VirtioPciTransport.DeviceConfigOffset + 8, VirtioPciTransport.DeviceConfigOffset + 11,
        VirtioPciTransport.NotifyOffset, VirtioPciTransport.NotifyOffset + 4, VirtioPciTransport.NotifyOffset + 8, 0x3ffe, 0x3fff,
        VirtioPciTransport.MsixTableOffset, VirtioPciTransport.MsixTableOffset + 8, VirtioPciTransport.MsixTableOffset + 12,
        VirtioPciTransport.MsixTableOffset + 16 + 12, VirtioPciTransport.MsixTableOffset + 2 * 16 + 4, VirtioPciTransport.MsixTableOffset + 3 * 16,
        VirtioPciTransport.MsixPbaOffset, VirtioPciTransport.MsixPbaOffset + 4, VirtioPciTransport.MsixPbaOffset + 8, 0x7ffc,
    ];

    private static readonly int[] Widths = [1, 2, 4, 8, 1, 2, 4, 8, 0, 3, 16];

    [TestCase(1, false)]
    [TestCase(2, false)]
    [TestCase(3, false)]
    [TestCase(4, true)]
    [TestCase(5, true)]
    [TestCase(6, false, true)]
    [TestCase(7, false, true)]
    [TestCase(8, true, true)]
    public void Random_register_accesses_throw_nothing_but_our_own_errors_and_keep_rings_inside_memory(int seed, bool strict, bool msix = false)
    {
        var random = new Random(seed);
        var outside = new List<string>();
        var device = new FakeVirtioDevice("random", VirtioDeviceType.Net, features: VirtioFeatures.RingEventIndex | VirtioFeatures.RingIndirectDescriptors | 0x3f,
            queueSizes: [8, 4], configSize: 12);
        using var bed = new VirtioTestBed(device, new VirtioPciTransportOptions { Strict = strict, Fatal = _ => { } }, msiRoutes: msix ? 3 : 0);
        GuestMemory memory = bed.Machine.Memory;
        device.OnActivate = activation => ServeOnce(activation, memory, outside);
        ulong originalBar = bed.BarAddress;
        IIoDevice region = bed.Transport.Bar.Region;
        int badDrivers = 0, steps = 0;

        // Episodes of a driver that mostly follows the rules and sometimes does anything at all, so the walk
        // reaches every state (negotiation, queue set-up, live) and misbehaves in each.
        while (steps < Steps)
        {
            double chaos = random.Next(3) == 0 ? random.NextDouble() * 0.2 : 0;
            foreach (Action<Random> action in Episode(random, bed, region, device, memory))
            {
                steps++;
                try
                {
                    if (random.NextDouble() < chaos)
                        Chaos(random, bed, region, device, memory);
                    else
                        action(random);
                }
                catch (BadDriverException) when (strict)
                {
                    badDrivers++;
                }
            }
        }

        TestContext.Out.WriteLine($"{steps} steps: {device.Activations.Count} activations, {device.Resets} resets, {badDrivers} strict bad drivers");
        Assert.That(outside, Is.Empty);
        Assert.That(device.Activations, Is.Not.Empty);
        if (strict)
            Assert.That(badDrivers, Is.GreaterThan(0));

        // Whatever the driver did, a reset and a proper bring-up over clean rings still work.
        memory.Clear(new GuestAddress(VirtioTestBed.RingBase), 0x10000);
        bed.SetConfig(PciHeader.BaseAddress0, 4, (uint)originalBar);
        bed.SetConfig(PciHeader.BaseAddress0 + 4, 4, (uint)(originalBar >> 32));
        bed.SetConfig(PciHeader.Command, 2, (uint)PciCommand.MemorySpace);
        bed.BringUp();
        Assert.That(bed.Status, Is.EqualTo(VirtioDeviceStatus.Acknowledge | VirtioDeviceStatus.Driver | VirtioDeviceStatus.FeaturesOk | VirtioDeviceStatus.DriverOk));
    }

    // One bring-up by the book (with random choices: features, queue sizes and places, which queues),
    // then a live phase of notifications, interrupts, ring traffic and configuration accesses.
    private static IEnumerable<Action<Random>> Episode(Random random, VirtioTestBed bed, IIoDevice region, FakeVirtioDevice device, GuestMemory memory)
    {
        yield return _ => region.Write(DeviceStatus, [0]);
        yield return _ => region.Write(DeviceStatus, [1]);
        yield return _ => region.Write(DeviceStatus, [3]);
        ulong features = random.Next(8) == 0 ? (ulong)random.NextInt64() : VirtioFeatures.Version1 | ((ulong)random.Next(64) & 0x3f) | VirtioFeatures.RingEventIndex;
        yield return _ => Write(region, DriverFeatureSelect, 4, 0);
        yield return _ => Write(region, DriverFeature, 4, (uint)features);
        yield return _ => Write(region, DriverFeatureSelect, 4, 1);
        yield return _ => Write(region, DriverFeature, 4, (uint)(features >> 32));
        yield return _ => region.Write(DeviceStatus, [11]);
        yield return _ => region.Read(DeviceStatus, new byte[1]);
        for (int queue = 0; queue < 3; queue++)
        {
            // Queues 0 and 1 are set up four times in five; queue 2, which does not exist, one time in ten.
            bool setUp = queue == 2 ? random.Next(10) == 0 : random.Next(5) != 0;
            if (!setUp)
                continue;
            int q = queue;
            bool good = random.Next(5) != 0;
            yield return _ => Write(region, QueueSelect, 2, (ulong)q);
            yield return r => Write(region, QueueSize, 2, good ? 1UL << r.Next(4) : (ulong)r.Next(65536));
            yield return r => Write(region, QueueDesc, 8, good ? VirtioTestBed.Descriptors(q) : Pick(r, [0xfff00, 0x100000, (ulong)r.NextInt64()]));
            yield return r => Write(region, QueueDriver, 8, good ? VirtioTestBed.DriverArea(q) : Pick(r, [0xffffe, ulong.MaxValue - 1, 0x12001]));
            yield return r => Write(region, QueueDevice, 8, good ? VirtioTestBed.DeviceArea(q) : Pick(r, [0xffffc, 0x1_0000_0000, 0x13002]));
            yield return _ => Write(region, QueueEnable, 2, 1);
        }
        yield return _ => region.Write(DeviceStatus, [15]);
        int live = random.Next(50);
        for (int i = 0; i < live; i++)
            yield return r => Live(r, bed, region, device, memory);
    }

    private static void Live(Random random, VirtioTestBed bed, IIoDevice region, FakeVirtioDevice device, GuestMemory memory)
    {
        switch (random.Next(8))
        {
            case 0:
                Write(region, VirtioPciTransport.NotifyOffset + 4 * random.Next(2), 2, 0);
                break;
            case 1:
                region.Read(VirtioPciTransport.IsrOffset, new byte[1]);
                break;
            case 2:
                Span<byte> junk = stackalloc byte[32];
                random.NextBytes(junk);
                memory.Write(new GuestAddress(VirtioTestBed.RingBase + (ulong)random.Next(0x8000)), junk);
                break;
            case 3:
                if (device.Active is { } active)
                    active.Transport.SignalUsedBuffers(random.Next(2));
                break;
            case 4:
                device.ConfigGeneration++;
                device.Active?.Transport.SignalConfigChange();
                region.Read(ConfigGeneration, new byte[1]);
                break;
            case 5:
                region.Read((ulong)(VirtioPciTransport.DeviceConfigOffset + random.Next(12)), new byte[1]);
                break;
            case 6:
                if (device.Active is not null)
                    ServeOnce(device.Active, memory, null);
                break;
            default:
                Chaos(random, bed, region, device, memory);
                break;
        }
    }

    private static void Chaos(Random random, VirtioTestBed bed, IIoDevice region, FakeVirtioDevice device, GuestMemory memory)
    {
        switch (random.Next(6))
        {
            case < 3:
                BarAccess(random, region);
                break;
            case 3:
                ConfigAccess(random, bed);
                break;
            case 4:
                region.Write(DeviceStatus, [(byte)random.Next(256)]);
                break;
            default:
                if (device.Active is { } active && random.Next(4) == 0)
                    active.Transport.ReportBadDriver(new BadDriverException("random vq", "random breakage"));
                break;
        }
    }

    private static void BarAccess(Random random, IIoDevice region)
    {
        int offset = random.Next(4) == 0 ? random.Next((int)VirtioPciTransport.MsixBarSize + 64) : InterestingBarOffsets[random.Next(InterestingBarOffsets.Length)];
        int width = Widths[random.Next(Widths.Length)];
        Span<byte> data = stackalloc byte[16];
        if (random.Next(2) == 0)
        {
            region.Read((ulong)offset, data[..width]);
            return;
        }
        ulong value = random.Next(5) switch
        {
            0 => 0,
            1 => 1,
            2 => (ulong)random.Next(65536),
            3 => 1UL << random.Next(64),
            _ => (ulong)random.NextInt64(),
        };
        BinaryPrimitives.WriteUInt64LittleEndian(data, value);
        region.Write((ulong)offset, data[..width]);
    }

    private static void ConfigAccess(Random random, VirtioTestBed bed)
    {
        int width = new[] { 1, 2, 4 }[random.Next(3)];
        int register = random.Next(4) == 0
            ? VirtioPciTransport.PciConfigCapability + random.Next(20)
            : random.Next(PciHeader.ConfigurationSize);
        register &= ~(width - 1);
        if (random.Next(2) == 0)
            _ = bed.Config(register, width);
        else
            bed.SetConfig(register, width, random.Next(3) == 0 ? uint.MaxValue : (uint)random.Next());
    }

    // What a device's worker does with a queue: pop what is there, return it, report a broken ring.
    private static void ServeOnce(VirtioActivation activation, GuestMemory memory, List<string>? outside)
    {
        var chain = new DescriptorChain();
        foreach (Virtqueue? queue in activation.Queues)
        {
            if (queue is null)
                continue;
            VringAddresses a = queue.Ring.Addresses;
            ulong size = (ulong)queue.Ring.Size;
            if (outside is not null && !(memory.IsValidRange(a.DescriptorTable, 16 * size) && memory.IsValidRange(a.AvailableRing, 6 + 2 * size)
                && memory.IsValidRange(a.UsedRing, 6 + 8 * size)))
                outside.Add(queue.ToString());
            try
            {
                for (int i = 0; i < 4 && queue.Ring.TryPop(chain); i++)
                {
                    queue.Ring.Push(chain.Head, 0);
                    if (queue.Ring.NeedsInterrupt())
                        activation.Transport.SignalUsedBuffers(queue.Index);
                }
            }
            catch (BadDriverException e)
            {
                activation.Transport.ReportBadDriver(e);
                return;
            }
        }
    }

    private static void Write(IIoDevice region, int offset, int width, ulong value)
    {
        Span<byte> data = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(data, value);
        region.Write((ulong)offset, data[..width]);
    }

    private static ulong Pick(Random random, ulong[] choices) => choices[random.Next(choices.Length)];
}
