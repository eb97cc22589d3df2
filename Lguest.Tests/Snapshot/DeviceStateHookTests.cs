using Lguest.Snapshot;
using Lguest.Virtio;

namespace Lguest.Tests.Snapshot;

/// <summary>The device API's snapshot hook: a device takes part only by saying what its state is.</summary>
public class DeviceStateHookTests
{
    [Test]
    public void A_device_that_says_nothing_of_its_state_refuses_to_be_snapshotted()
    {
        IVirtioDevice device = new Lguest.Tests.Devices.EchoDevice(Lguest.Memory.GuestMemory.Allocate(Lguest.Memory.GuestMemoryLayout.Flat(1 << 20)));
        var error = Assert.Throws<SnapshotException>(() => device.CaptureState())!;
        Assert.That((error.Reason, error.Message), Is.EqualTo((SnapshotRefusal.NotSupported,
            $"device {device.Name} cannot take part in snapshots (it does not say what its state is)")));
        Assert.That(() => device.RestoreState(Array.Empty<byte>()), Throws.TypeOf<SnapshotException>());
    }

    [Test]
    public void A_third_party_device_round_trips_its_own_state_through_the_hook()
    {
        var device = new CountingDevice { Served = 41 };
        byte[] state = ((IVirtioDevice)device).CaptureState();
        var restored = new CountingDevice();
        ((IVirtioDevice)restored).RestoreState(state);
        Assert.That(restored.Served, Is.EqualTo(41u));
        Assert.That(() => ((IVirtioDevice)restored).RestoreState(state.AsMemory(0, 2)),
            Throws.TypeOf<SnapshotException>().With.Message.EqualTo("the counting device's state: ends 2 bytes early"));
    }

    // A device written on the public API only, with one counter of host-side state.
    private sealed class CountingDevice() : VirtioDevice("counting")
    {
        public uint Served { get; set; }

        public override VirtioDeviceType DeviceType => (VirtioDeviceType)0x3e;

        public override ulong DeviceFeatures => VirtioFeatures.Version1;

        public override IReadOnlyList<ushort> QueueMaxSizes { get; } = [16];

        public override byte[] CaptureState()
        {
            var writer = new SnapshotStateWriter();
            writer.WriteUInt32(Served);
            return writer.ToArray();
        }

        public override void RestoreState(ReadOnlyMemory<byte> state)
        {
            var reader = new SnapshotStateReader(state, "the counting device's state");
            Served = reader.ReadUInt32();
            reader.RequireEnd();
        }

        protected override void OnActivate(VirtioActivation activation, DeviceWorkers workers)
        {
        }
    }
}
