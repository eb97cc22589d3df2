using Lguest.Devices;
using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Devices.Rng;

/// <summary>The entropy device: every writable byte filled from the CSPRNG, one request per chain.</summary>
public class VirtioRngDeviceTests
{
    private const ulong Features = VirtioFeatures.RingIndirectDescriptors | VirtioFeatures.RingEventIndex | VirtioFeatures.Version1;

    private GuestMemory _memory = null!;
    private GuestArena _arena = null!;
    private VirtqueueDriver _driver = null!;
    private RecordingVirtioTransport _transport = null!;
    private VirtioRngDevice _device = null!;

    [SetUp]
    public void Start()
    {
        _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(16 << 20));
        _arena = new GuestArena(new GuestAddress(1 << 20), 15 << 20);
        _driver = new VirtqueueDriver(_memory, 0, 64, Features, new GuestAddress(0x10000), _arena);
        _transport = new RecordingVirtioTransport();
        _device = new VirtioRngDevice(_memory, new VirtioRngOptions { MaxRequestBytes = 64 * 1024 });
        _device.Activate(new VirtioActivation(Features, [_driver.CreateQueue("rng vq 0")], _transport));
    }

    [TearDown]
    public void Stop()
    {
        _device.Reset();
        _driver.Dispose();
        _transport.Dispose();
        _memory.Dispose();
    }

    [Test]
    public void The_device_is_an_entropy_device_with_one_queue_no_features_of_its_own_and_no_configuration()
    {
        Assert.That((_device.DeviceType, _device.QueueMaxSizes, _device.ConfigSize), Is.EqualTo((VirtioDeviceType.Entropy, new ushort[] { 64 }, 0)));
        Assert.That(_device.DeviceFeatures, Is.EqualTo(Features));
    }

    [Test]
    public void A_request_is_filled_and_reports_every_byte_written()
    {
        DriverBuffer buffer = _driver.Writable(4096, fill: 0);
        ushort head = _driver.Add(buffer);
        _driver.Kick();
        VringUsedElement used = _driver.WaitForUsed(_transport);
        Assert.That((used.Id, used.Length), Is.EqualTo(((uint)head, 4096u)));
        // 4096 zero bytes from a working generator: chance 2^-32768. More than a few hundred zeros: never.
        Assert.That(_driver.ReadBuffer(buffer).Count(b => b == 0), Is.LessThan(64));
    }

    [Test]
    public void Every_writable_buffer_of_a_chain_is_filled_as_one_request()
    {
        DriverBuffer a = _driver.Writable(16, fill: 0), b = _driver.Writable(1000, fill: 0), c = _driver.Writable(7, fill: 0);
        _driver.Add(indirect: true, a, b, c);
        _driver.Kick();
        Assert.That(_driver.WaitForUsed(_transport).Length, Is.EqualTo(1023u));
        Assert.That(new[] { a, b, c }.Select(x => _driver.ReadBuffer(x).Any(v => v != 0)), Is.All.True);
    }

    [Test]
    public void A_request_larger_than_the_limit_gets_the_limit_and_the_rest_is_untouched()
    {
        DriverBuffer buffer = _driver.Writable(100 * 1024, fill: 0xA5);
        _driver.Add(buffer);
        _driver.Kick();
        Assert.That(_driver.WaitForUsed(_transport).Length, Is.EqualTo(64u * 1024));
        Assert.That(_driver.ReadBuffer(buffer)[(64 * 1024)..], Is.All.EqualTo(0xA5));
    }

    [Test]
    public void The_bytes_look_uniform_and_two_requests_differ()
    {
        DriverBuffer first = _driver.Writable(64 * 1024), second = _driver.Writable(64 * 1024);
        _driver.Add(first);
        _driver.Add(second);
        _driver.Kick();
        _driver.WaitForUsed(_transport, 2);
        byte[] bytes = _driver.ReadBuffer(first);
        Assert.That(_driver.ReadBuffer(second), Is.Not.EqualTo(bytes));

        // Chi-square of the byte histogram, 255 degrees of freedom: mean 255, sd ~22.6. A generator
        // that is not uniform lands in the thousands; a good one exceeds 400 with probability ~1e-10.
        var counts = new int[256];
        foreach (byte b in bytes)
            counts[b]++;
        double expected = bytes.Length / 256.0;
        double chiSquare = counts.Sum(c => (c - expected) * (c - expected) / expected);
        Assert.That(chiSquare, Is.InRange(120.0, 400.0));
        // Bit balance: 524288 bits, sd ~362; six sd either way.
        long ones = bytes.Sum(b => System.Numerics.BitOperations.PopCount(b));
        Assert.That(ones, Is.InRange(262144 - 2200, 262144 + 2200));
    }

    [Test]
    public void A_device_readable_buffer_in_the_request_queue_is_a_bad_driver()
    {
        _driver.Add(_driver.Readable("feed me"u8), _driver.Writable(16));
        _driver.Kick();
        Assert.That(_transport.WaitForBadDriver().Message, Does.Contain("rng vq 0").And.Contain("device-readable"));
    }

    [Test]
    public void A_zero_length_request_comes_back_with_length_0()
    {
        _driver.Add(_driver.Writable(0));
        _driver.Kick();
        Assert.That(_driver.WaitForUsed(_transport).Length, Is.Zero);
    }

    [TestCase((ushort)0)]
    [TestCase((ushort)48)]
    public void A_queue_size_that_is_not_a_power_of_two_is_refused(ushort size)
    {
        Assert.That(() => new VirtioRngOptions { QueueSize = size }.Validate(),
            Throws.ArgumentException.With.Property(nameof(ArgumentException.ParamName)).EqualTo("QueueSize"));
    }

    [TestCase(0)]
    [TestCase((1 << 20) + 1)]
    public void A_request_limit_outside_1_byte_to_1_MiB_is_refused(int limit)
    {
        Assert.That(() => new VirtioRngOptions { MaxRequestBytes = limit }.Validate(),
            Throws.ArgumentException.With.Property(nameof(ArgumentException.ParamName)).EqualTo("MaxRequestBytes"));
    }
}
