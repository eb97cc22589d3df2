using CustomDevice;
using Lguest.Devices;
using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Devices.Samples;

/// <summary>
/// samples/CustomDevice's third-party device (its source compiled in here): the bytes it gives are the source's,
/// and a hostile chain costs that device only (DEVICE_NEEDS_RESET through its transport) while an in-tree device in
/// the same guest memory carries on.
/// </summary>
public class ChosenEntropyDeviceTests
{
    private const ulong Features = VirtioFeatures.Version1;

    private GuestMemory _memory = null!;
    private GuestArena _arena = null!;
    private VirtqueueDriver _driver = null!;
    private VirtqueueDriver _otherDriver = null!;
    private RecordingVirtioTransport _transport = null!;
    private RecordingVirtioTransport _otherTransport = null!;
    private ChosenEntropyDevice _device = null!;
    private VirtioRngDevice _other = null!;
    private long _next;

    [SetUp]
    public void Start()
    {
        _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(16 << 20));
        _arena = new GuestArena(new GuestAddress(1 << 20), 15 << 20);
        _driver = new VirtqueueDriver(_memory, 0, ChosenEntropyDevice.QueueSize, Features, new GuestAddress(0x10000), _arena);
        _otherDriver = new VirtqueueDriver(_memory, 0, 64, Features, new GuestAddress(0x20000), _arena);
        _transport = new RecordingVirtioTransport();
        _otherTransport = new RecordingVirtioTransport();
        _next = 0;
        _device = new ChosenEntropyDevice(_memory, span =>
        {
            for (int i = 0; i < span.Length; i++)
                span[i] = (byte)_next++;
        });
        _other = new VirtioRngDevice(_memory);
        _device.Activate(new VirtioActivation(Features, [_driver.CreateQueue("chosen vq 0")], _transport));
        _other.Activate(new VirtioActivation(Features, [_otherDriver.CreateQueue("rng vq 0")], _otherTransport));
    }

    [TearDown]
    public void Stop()
    {
        _device.Reset();
        _other.Reset();
        _driver.Dispose();
        _otherDriver.Dispose();
        _transport.Dispose();
        _otherTransport.Dispose();
        _memory.Dispose();
    }

    [Test]
    public void The_guest_gets_the_bytes_of_the_embedder_s_source_in_order_across_buffers_and_requests()
    {
        DriverBuffer a = _driver.Writable(10, fill: 0xEE), b = _driver.Writable(300, fill: 0xEE);
        _driver.Add(a, b);
        _driver.Kick();
        Assert.That(_driver.WaitForUsed(_transport).Length, Is.EqualTo(310u));
        DriverBuffer c = _driver.Writable(5, fill: 0xEE);
        _driver.Add(c);
        _driver.Kick();
        Assert.That(_driver.WaitForUsed(_transport).Length, Is.EqualTo(5u));

        byte[] all = [.. _driver.ReadBuffer(a), .. _driver.ReadBuffer(b), .. _driver.ReadBuffer(c)];
        Assert.That(all, Is.EqualTo(Enumerable.Range(0, 315).Select(i => (byte)i).ToArray()));
    }

    [Test]
    public void A_request_larger_than_the_limit_gets_the_limit_from_one_bounded_call_and_the_rest_is_untouched()
    {
        DriverBuffer buffer = _driver.Writable(ChosenEntropyDevice.MaxRequestBytes + 4096, fill: 0xA5);
        _driver.Add(buffer);
        _driver.Kick();
        Assert.That(_driver.WaitForUsed(_transport).Length, Is.EqualTo((uint)ChosenEntropyDevice.MaxRequestBytes));
        Assert.That(_driver.ReadBuffer(buffer)[ChosenEntropyDevice.MaxRequestBytes..], Is.All.EqualTo(0xA5));
    }

    [Test]
    public void A_hostile_chain_marks_only_the_sample_device_bad_and_the_other_device_carries_on()
    {
        // §5.4.6.1: a device-readable buffer in the requestq.
        _driver.Add(_driver.Readable([1, 2, 3]), _driver.Writable(16));
        _driver.Kick();

        BadDriverException bad = _transport.WaitForBadDriver();
        Assert.That(bad.Message, Does.Contain("chosen-entropy").And.Contain("device-readable"));
        Assert.That(_transport.DeviceFailures, Is.Empty);

        DriverBuffer buffer = _otherDriver.Writable(64, fill: 0);
        _otherDriver.Add(buffer);
        _otherDriver.Kick();
        Assert.That(_otherDriver.WaitForUsed(_otherTransport).Length, Is.EqualTo(64u));
        Assert.That(_otherTransport.BadDrivers, Is.Empty);
    }

    [Test]
    public void After_a_reset_the_sample_device_serves_again()
    {
        _driver.Add(_driver.Readable([1]));
        _driver.Kick();
        _transport.WaitForBadDriver();
        _device.Reset();
        _driver.Dispose();

        _driver = new VirtqueueDriver(_memory, 0, ChosenEntropyDevice.QueueSize, Features, new GuestAddress(0x30000), _arena);
        _device.Activate(new VirtioActivation(Features, [_driver.CreateQueue("chosen vq 0")], _transport));
        _driver.Add(_driver.Writable(8));
        _driver.Kick();
        Assert.That(_driver.WaitForUsed(_transport).Length, Is.EqualTo(8u));
    }
}
