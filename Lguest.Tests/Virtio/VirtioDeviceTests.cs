using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Virtio;

/// <summary>
/// The public device base: Activate and Reset as the transport calls them (idempotent, workers joined), and what a
/// worker throws contained to its device: a bad driver and a device failure both end in DEVICE_NEEDS_RESET.
/// </summary>
public class VirtioDeviceTests
{
    /// <summary>A device whose one worker runs what the test gives it, recording the resets the base reports.</summary>
    private sealed class ScriptedDevice(Action<Virtqueue, DeviceWorkers> body) : VirtioDevice("scripted")
    {
        public List<VirtioActivation?> Resets { get; } = [];

        public int Activations;

        public Func<VirtioActivation, Exception?> FailActivation { get; set; } = _ => null;

        public override VirtioDeviceType DeviceType => VirtioDeviceType.Entropy;

        public override ulong DeviceFeatures => VirtioFeatures.Version1;

        public override IReadOnlyList<ushort> QueueMaxSizes { get; } = [8];

        public VirtioActivation? Current => Activation;

        protected override void OnActivate(VirtioActivation activation, DeviceWorkers workers)
        {
            Activations++;
            if (activation.Queues[0] is { } queue)
                workers.Start(queue.Ring.Name, () => body(queue, workers));
            if (FailActivation(activation) is { } error)
                throw error;
        }

        protected override void OnReset(VirtioActivation? previous) => Resets.Add(previous);
    }

    private static void WaitUntilStopped(Virtqueue queue, DeviceWorkers workers)
    {
        while (queue.Ring.WaitForAvailable(queue.Notifier, workers.Stop))
        {
        }
    }

    private static (VirtioActivation Activation, RecordingVirtioTransport Transport, VirtqueueDriver Driver) Activation(GuestMemory memory)
    {
        var transport = new RecordingVirtioTransport();
        var driver = new VirtqueueDriver(memory, 0, 8, VirtioFeatures.Version1, new GuestAddress(0x10000), new GuestArena(new GuestAddress(0x40000), 0x10000));
        return (new VirtioActivation(VirtioFeatures.Version1, [driver.CreateQueue("scripted vq 0")], transport), transport, driver);
    }

    [Test]
    public void Reset_before_any_activation_and_twice_after_one_is_harmless_and_reports_the_ended_activation_once()
    {
        using GuestMemory memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        var device = new ScriptedDevice(WaitUntilStopped);
        (VirtioActivation activation, RecordingVirtioTransport transport, VirtqueueDriver driver) = Activation(memory);
        using (transport)
        using (driver)
        {
            device.Reset();
            device.Activate(activation);
            Assert.That(device.Current, Is.SameAs(activation));
            device.Reset();
            device.Reset();
            Assert.That(device.Resets, Is.EqualTo(new VirtioActivation?[] { null, null, activation, null }),
                "Activate resets first (nothing active), then the reset that ended it, then nothing");
            Assert.That(device.Current, Is.Null);
        }
    }

    [Test]
    public void Activating_again_stops_the_earlier_activation_s_workers_first()
    {
        using GuestMemory memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        int running = 0, most = 0;
        var device = new ScriptedDevice((queue, workers) =>
        {
            int now = Interlocked.Increment(ref running);
            InterlockedMax(ref most, now);
            WaitUntilStopped(queue, workers);
            Interlocked.Decrement(ref running);
        });
        (VirtioActivation activation, RecordingVirtioTransport transport, VirtqueueDriver driver) = Activation(memory);
        using (transport)
        using (driver)
        {
            for (int i = 0; i < 5; i++)
                device.Activate(activation);
            device.Reset();
        }
        Assert.That((device.Activations, most, running), Is.EqualTo((5, 1, 0)));
    }

    [Test]
    public void A_worker_s_bad_driver_exception_is_reported_to_the_transport_as_a_bad_driver()
    {
        using GuestMemory memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        var device = new ScriptedDevice((queue, _) => throw new BadDriverException(queue.Ring.Name, "a hostile chain"));
        (VirtioActivation activation, RecordingVirtioTransport transport, VirtqueueDriver driver) = Activation(memory);
        using (transport)
        using (driver)
        {
            device.Activate(activation);
            Assert.That(transport.WaitForBadDriver().Message, Is.EqualTo("scripted vq 0: bad driver: a hostile chain"));
            device.Reset();
            Assert.That(transport.DeviceFailures, Is.Empty);
        }
    }

    [Test]
    public void Any_other_exception_from_a_worker_is_reported_as_the_device_s_failure_not_thrown()
    {
        using GuestMemory memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        var bug = new InvalidOperationException("the device's own bug");
        var device = new ScriptedDevice((_, _) => throw bug);
        (VirtioActivation activation, RecordingVirtioTransport transport, VirtqueueDriver driver) = Activation(memory);
        using (transport)
        using (driver)
        {
            device.Activate(activation);
            Assert.That(transport.BadDriverReported.Wait(timeoutMilliseconds: VirtqueueDriver.PatienceMilliseconds), Is.True);
            device.Reset();
            Assert.That(transport.DeviceFailures.Single(), Is.EqualTo(("worker scripted vq 0 failed: the device's own bug", (Exception?)bug)));
            Assert.That(transport.BadDrivers, Is.Empty);
        }
    }

    [Test]
    public void A_worker_ended_by_its_cancellation_reports_nothing()
    {
        using GuestMemory memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        var device = new ScriptedDevice((_, workers) => Task.Delay(Timeout.Infinite, workers.Cancellation).GetAwaiter().GetResult());
        (VirtioActivation activation, RecordingVirtioTransport transport, VirtqueueDriver driver) = Activation(memory);
        using (transport)
        using (driver)
        {
            device.Activate(activation);
            device.Reset();
            Assert.That((transport.BadDrivers.Count, transport.DeviceFailures.Count), Is.EqualTo((0, 0)));
        }
    }

    [Test]
    public void An_activation_that_throws_leaves_no_worker_running_and_no_activation()
    {
        using GuestMemory memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        int stopped = 0;
        var device = new ScriptedDevice((queue, workers) =>
        {
            WaitUntilStopped(queue, workers);
            Interlocked.Increment(ref stopped);
        })
        {
            FailActivation = a => new BadDriverException("scripted", "a feature without the one it needs"),
        };
        (VirtioActivation activation, RecordingVirtioTransport transport, VirtqueueDriver driver) = Activation(memory);
        using (transport)
        using (driver)
        {
            Assert.That(() => device.Activate(activation), Throws.TypeOf<BadDriverException>());
            Assert.That((Volatile.Read(ref stopped), device.Current), Is.EqualTo((1, (VirtioActivation?)null)));
        }
    }

    [Test]
    public void A_worker_cannot_stop_its_own_workers()
    {
        using GuestMemory memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        Exception? seen = null;
        using var done = new ManualResetEventSlim();
        var device = new ScriptedDevice((_, workers) =>
        {
            try
            {
                workers.StopAndJoin();
            }
            catch (InvalidOperationException e)
            {
                seen = e;
            }
            done.Set();
        });
        (VirtioActivation activation, RecordingVirtioTransport transport, VirtqueueDriver driver) = Activation(memory);
        using (transport)
        using (driver)
        {
            device.Activate(activation);
            Assert.That(done.Wait(VirtqueueDriver.PatienceMilliseconds), Is.True);
            device.Reset();
        }
        Assert.That(seen?.Message, Does.Contain("cannot stop its own device"));
    }

    [Test]
    public void Through_the_PCI_transport_a_device_failure_shows_DEVICE_NEEDS_RESET_even_under_strict_and_a_reset_clears_it()
    {
        var logger = new RecordingLogger<VirtioPciTransport>();
        var fatal = new List<BadDriverException>();
        int calls = 0;
        var device = new ScriptedDevice((queue, workers) =>
        {
            if (Interlocked.Increment(ref calls) == 1)
                throw new InvalidOperationException("the device's own bug");
            WaitUntilStopped(queue, workers);
        });
        using var bed = new VirtioTestBed(device, new VirtioPciTransportOptions { Strict = true, Fatal = fatal.Add }, logger: logger);
        bed.BringUp();
        // The worker's thread sets the status, then logs: wait for both (under load the log came a moment later).
        Assert.That(SpinWait.SpinUntil(() => (bed.Status & VirtioDeviceStatus.DeviceNeedsReset) != 0 && Logged(logger, 3007),
            VirtqueueDriver.PatienceMilliseconds), Is.True);
        Assert.That(fatal, Is.Empty, "a device's failure is not the driver's: strict mode does not end the run");
        Assert.That(logger.Entries.Count(e => e.Id.Id == 3007), Is.EqualTo(1));
        Assert.That(logger.Entries.Single(e => e.Id.Id == 3007).Message, Does.Contain("scripted: device failed: worker scripted vq 0 failed: the device's own bug"));
        bed.BringUp();
        Assert.That(bed.Status & VirtioDeviceStatus.DeviceNeedsReset, Is.EqualTo(VirtioDeviceStatus.None), "the driver's reset brought it back");
        Assert.That(device.Activations, Is.EqualTo(2));
    }

    [Test]
    public void Through_the_PCI_transport_an_activation_that_fails_by_itself_costs_only_the_device()
    {
        var device = new ScriptedDevice(WaitUntilStopped) { FailActivation = _ => new InvalidOperationException("cannot start") };
        using var bed = new VirtioTestBed(device);
        Assert.That(() => bed.BringUp(), Throws.Nothing);
        Assert.That(bed.Status & VirtioDeviceStatus.DeviceNeedsReset, Is.EqualTo(VirtioDeviceStatus.DeviceNeedsReset));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }

    private static bool Logged<T>(RecordingLogger<T> logger, int id)
    {
        lock (logger.Entries)
            return logger.Entries.Any(e => e.Id.Id == id);
    }
}
