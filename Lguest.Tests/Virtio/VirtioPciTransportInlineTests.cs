using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Virtio;

// A device of the public API that serves its queue 0 on the notifying thread (DeviceWorkers.ServeNotificationsInline,
// QEMU's ioeventfd=off) behind the real transport: the queue takes no ioeventfd, the notification write is served
// before it returns, a bad chain found there costs the device only, and a reset waits for a server in progress.
public class VirtioPciTransportInlineTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    private VirtioTestBed _bed = null!;
    private InlineFillingDevice _device = null!;
    private RingBuilder _ring = null!;

    [SetUp]
    public void SetUp()
    {
        var machine = new FakeVirtualMachine(GuestMemoryLayout.Flat(1 << 20), acceptsNotifyEvents: true);
        _device = new InlineFillingDevice(machine.Memory);
        _bed = new VirtioTestBed(_device, machine: machine);
        _ring = new RingBuilder(_bed.Machine.Memory, queueSize: 16, VirtioFeatures.RingEventIndex)
        {
            Descriptors = new GuestAddress(VirtioTestBed.Descriptors(0)),
            Available = new GuestAddress(VirtioTestBed.DriverArea(0)),
            Used = new GuestAddress(VirtioTestBed.DeviceArea(0)),
        };
        Assert.That(_bed.Negotiate(VirtioFeatures.Version1 | VirtioFeatures.RingEventIndex), Is.True);
        _bed.SetUpQueue(0, size: 16);
        _bed.SetUpQueue(1, size: 16, descriptors: VirtioTestBed.Descriptors(1), driver: VirtioTestBed.DriverArea(1), device: VirtioTestBed.DeviceArea(1));
        _bed.AddStatus(VirtioDeviceStatus.DriverOk);
    }

    [TearDown]
    public void TearDown()
    {
        _bed.Dispose();
        _device.Reset();
        _bed.Machine.Dispose();
    }

    [Test]
    public void The_inline_queue_takes_no_ioeventfd_and_its_notification_is_served_before_the_write_returns()
    {
        lock (_bed.Machine.NotifyEvents)
            Assert.That(_bed.Machine.NotifyEvents, Has.Count.EqualTo(1), "queue 1 (a worker's only) keeps its ioeventfd; queue 0 has none");
        _device.WaitForTheWorkerToSleep();

        _ring.Descriptor(0, address: 0x80000, length: 64, write: true).MakeAvailable(0);
        _bed.Notify(0);

        Assert.That(_ring.UsedIndex, Is.EqualTo(1), "served in the notification's own exit");
        Assert.That(_device.InlineThreads, Is.EqualTo(new[] { Environment.CurrentManagedThreadId }));
        Assert.That(_bed.Machine.Memory.GetSpan(new GuestAddress(0x80000), 64).ToArray(), Is.All.EqualTo(InlineFillingDevice.Fill));
    }

    [Test]
    public void A_looping_chain_served_inline_puts_the_device_in_needs_reset_and_the_write_returns()
    {
        _device.WaitForTheWorkerToSleep();
        _ring.Descriptor(0, address: 0x80000, length: 64, write: true, next: 1)
             .Descriptor(1, address: 0x81000, length: 64, write: true, next: 0)
             .MakeAvailable(0);

        Assert.DoesNotThrow(() => _bed.Notify(0));

        Assert.That(_bed.Status.HasFlag(VirtioDeviceStatus.DeviceNeedsReset), Is.True);
        Assert.That(_device.WorkerEnded.Wait(HangGuard), Is.True, "the workers end with the inline server");
        _ring.Descriptor(2, address: 0x80000, length: 64, write: true).MakeAvailable(2);
        Assert.DoesNotThrow(() => _bed.Notify(0));
        Assert.That(_device.InlineThreads, Has.Count.EqualTo(1), "no inline server runs after the failure");
    }

    [Test]
    public void A_reset_waits_for_an_inline_server_in_progress_and_none_runs_after_it()
    {
        _device.WaitForTheWorkerToSleep();
        _device.HoldInline = new ManualResetEventSlim();
        _ring.Descriptor(0, address: 0x80000, length: 64, write: true).MakeAvailable(0);
        var vcpu = new Thread(() => _bed.Notify(0));
        vcpu.Start();
        Assert.That(_device.InlineEntered.Wait(HangGuard), Is.True);

        var reset = new Thread(() => _bed.SetStatus(VirtioDeviceStatus.None));
        reset.Start();
        Assert.That(reset.Join(200), Is.False, "the reset waits for the server on the other vCPU");
        _device.HoldInline.Set();
        Assert.That(vcpu.Join(HangGuard) && reset.Join(HangGuard), Is.True);
        Assert.That(_bed.Status, Is.EqualTo(VirtioDeviceStatus.None));

        _device.HoldInline = null;
        _device.InlineThreads.Clear();
        _device.Queue0!.Notify();
        Assert.That(_device.InlineThreads, Is.Empty, "the old activation's server is gone");
    }

    // Fills each chain's writable buffers; queue 0 is served inline while its worker sleeps, queue 1 by a worker only.
    private sealed class InlineFillingDevice(GuestMemory memory) : VirtioDevice("inline-filler")
    {
        public const byte Fill = 0x6b;

        public override VirtioDeviceType DeviceType => VirtioDeviceType.Entropy;

        public override ulong DeviceFeatures => VirtioFeatures.RingEventIndex | VirtioFeatures.Version1;

        public override IReadOnlyList<ushort> QueueMaxSizes { get; } = [16, 16];

        public List<int> InlineThreads { get; } = [];

        public ManualResetEventSlim? HoldInline { get; set; }

        public ManualResetEventSlim InlineEntered { get; } = new();

        public ManualResetEventSlim WorkerEnded { get; } = new();

        public Virtqueue? Queue0 { get; private set; }

        public void WaitForTheWorkerToSleep()
        {
            SpinWait.SpinUntil(() => Queue0 is not null, HangGuard);
            long deadline = Environment.TickCount64 + (long)HangGuard.TotalMilliseconds;
            while (!Queue0!.Owner.TryEnter())
            {
                Assert.That(Environment.TickCount64, Is.LessThan(deadline), "the worker never let the queue go");
                Thread.Sleep(1);
            }
            Queue0.Owner.Exit();
        }

        protected override void OnActivate(VirtioActivation activation, DeviceWorkers workers)
        {
            for (int i = 0; i < activation.Queues.Count; i++)
            {
                if (activation.Queues[i] is not { } queue)
                    continue;
                bool inline = i == 0;
                var chain = new DescriptorChain();
                if (inline)
                {
                    Queue0 = queue;
                    workers.ServeNotificationsInline(queue, () =>
                    {
                        InlineThreads.Add(Environment.CurrentManagedThreadId);
                        InlineEntered.Set();
                        HoldInline?.Wait(HangGuard);
                        Drain(queue, chain, activation.Transport);
                        return !queue.Ring.EnableNotifications();
                    });
                }
                workers.Start(queue.Ring.Name, () =>
                {
                    Lock? owner = inline ? queue.Owner : null;
                    owner?.Enter();
                    try
                    {
                        while (queue.Ring.WaitForAvailable(queue.Notifier, workers.Stop, null, owner))
                            Drain(queue, chain, activation.Transport);
                    }
                    finally
                    {
                        owner?.Exit();
                        WorkerEnded.Set();
                    }
                });
            }
        }

        private void Drain(Virtqueue queue, DescriptorChain chain, IVirtioTransport transport)
        {
            while (queue.Ring.TryPop(chain))
            {
                uint written = 0;
                foreach (GuestBuffer buffer in chain.Writable)
                {
                    memory.GetSpan(buffer.Address, (int)buffer.Length).Fill(Fill);
                    written += buffer.Length;
                }
                queue.Ring.Push(chain.Head, written);
            }
            if (queue.Ring.NeedsInterrupt())
                transport.SignalUsedBuffers(queue.Index);
        }
    }
}
