using System.Buffers.Binary;
using System.Text;
using Lguest.Devices;
using Lguest.Snapshot;
using Lguest.Tests.Devices.Block;
using Lguest.Tests.Devices.Fs;
using Lguest.Tests.Devices.Vsock;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Snapshot;

/// <summary>
/// The in-tree devices' snapshot hooks: what each keeps, what a restore in another process finds again, and what it
/// refuses. The transport and rings around them are VirtioPciTransportSnapshotTests'.
/// </summary>
public class DeviceSnapshotTests
{
    [Test]
    public void A_disk_of_the_size_the_guest_knew_takes_the_block_device_state()
    {
        using var bed = new BlockTestBed(imageBytes: 1 << 20);
        byte[] state = bed.Device.CaptureState();
        using var same = new BlockTestBed(imageBytes: 1 << 20, activate: false);
        same.Device.RestoreState(state);
        same.Activate();
    }

    [Test]
    public void A_disk_of_another_size_or_writability_is_refused_by_name()
    {
        using var bed = new BlockTestBed(imageBytes: 1 << 20);
        byte[] state = bed.Device.CaptureState();
        using var larger = new BlockTestBed(imageBytes: 2 << 20, activate: false);
        Assert.That(() => larger.Device.RestoreState(state), Throws.TypeOf<SnapshotException>()
            .With.Message.EqualTo("block: the snapshot's disk holds 2048 sectors; the disk given holds 4096")
            .And.Property("Reason").EqualTo(SnapshotRefusal.Incompatible));
        using var readOnly = new BlockTestBed(imageBytes: 1 << 20, readOnly: true, activate: false);
        Assert.That(() => readOnly.Device.RestoreState(state), Throws.TypeOf<SnapshotException>()
            .With.Message.EqualTo("block: the snapshot's disk was writable; the disk given is read-only"));
        Assert.That(() => readOnly.Device.RestoreState(state.AsMemory(0, 8)), Throws.TypeOf<SnapshotException>()
            .With.Property("Reason").EqualTo(SnapshotRefusal.Truncated));
    }

    [Test]
    public void A_restored_vsock_device_sends_the_guest_one_transport_reset_and_serves_anew()
    {
        using var bed = new VsockTestBed(activate: false);
        for (int i = 0; i < 2; i++)
            bed.Event.Add(bed.Event.Writable(8));
        bed.Event.Publish();
        byte[] state = bed.Device.CaptureState();
        Assert.That(BinaryPrimitives.ReadUInt64LittleEndian(state), Is.EqualTo(VsockTestBed.GuestCid));

        bed.Device.RestoreState(state);
        bed.Activate();
        VringUsedElement used = bed.Event.WaitForUsed(bed.Transport);
        Assert.That(used.Length, Is.EqualTo(4u));
        Assert.That(bed.Memory.Read<uint>(new Lguest.Memory.GuestAddress(EventBuffer(bed, used.Id))), Is.EqualTo(VirtioVsockDevice.TransportResetEvent));

        // Once only: a later activation (the driver resetting the device) owes the guest nothing.
        bed.Device.Reset();
        bed.Activate();
        Assert.That(bed.Event.TryTakeUsed(out _), Is.False);
        Assert.That(() => bed.Device.RestoreState(state.AsMemory(0, 7)), Throws.TypeOf<SnapshotException>());
    }

    [Test]
    public void Virtio_fs_nodes_and_open_files_are_found_again_by_path_in_a_new_file_system()
    {
        using var fixture = new FsFixture();
        Directory.CreateDirectory(fixture.InShare("d"));
        File.WriteAllText(fixture.InShare("d/b.txt"), "before ");
        File.WriteAllText(fixture.InShare("gone.txt"), "soon unlinked");
        byte[] state;
        ulong d, b, gone, handle, dirHandle;
        using (var before = new FuseTestClient(fixture.Share))
        {
            d = before.LookupOk(1, "d");
            b = before.LookupOk(d, "b.txt");
            gone = before.LookupOk(1, "gone.txt");
            Assert.That(before.Open(b, 2 /* O_RDWR */, out handle), Is.Zero);
            Assert.That(before.Open(d, 0, out dirHandle, FuseOpcode.Opendir), Is.Zero);
            File.Delete(fixture.InShare("gone.txt"));
            state = before.Device.CaptureState();
        }

        // Another process's file system over the same folder: no INIT, the guest carries on with its ids.
        using var after = new FuseTestClient(fixture.Share, initialize: false);
        after.Restore(state);
        Assert.That(after.GetAttributes(b, out FuseAttr attr), Is.Zero);
        Assert.That(attr.Size, Is.EqualTo(7ul));
        Assert.That(after.Write(handle, 7, Encoding.UTF8.GetBytes("after"), out uint written), Is.Zero);
        Assert.That(written, Is.EqualTo(5u));
        Assert.That(after.Read(handle, 0, 64, out byte[] data), Is.Zero);
        Assert.That(Encoding.UTF8.GetString(data), Is.EqualTo("before after"));
        Assert.That(after.ReadDirectory(d).Select(e => e.Name), Does.Contain("b.txt"));
        Assert.That(after.Release(dirHandle, FuseOpcode.Releasedir), Is.Zero);
        Assert.That(after.GetAttributes(gone, out _), Is.EqualTo(Errno.EBADF), "a node whose file went is left out");
        File.WriteAllText(fixture.InShare("new"), "");
        ulong fresh = after.LookupOk(1, "new");
        Assert.That(fresh, Is.GreaterThan(gone), "node ids are not reused across a restore");
        Assert.That(File.ReadAllText(fixture.InShare("d/b.txt")), Is.EqualTo("before after"));
    }

    [Test]
    public void Virtio_fs_state_that_names_nodes_it_cannot_hold_is_refused()
    {
        using var fixture = new FsFixture();
        using var client = new FuseTestClient(fixture.Share, initialize: false);
        var w = new SnapshotStateWriter();
        w.WriteBoolean(true);
        w.WriteUInt64(5); // next node
        w.WriteUInt64(1); // next handle
        w.WriteUInt32(1);
        w.WriteUInt64(9); // an id at or past the next
        w.WriteUInt64(1);
        w.WriteUInt32(0x8000);
        w.WriteBytes("a"u8);
        w.WriteUInt32(0);
        Assert.That(() => client.Device.RestoreState(w.ToArray()), Throws.TypeOf<SnapshotException>()
            .With.Message.EqualTo("fs's state: node id 9 is the root's, repeated, or not below the next id 5"));
    }

    [Test]
    public void Devices_without_state_of_their_own_keep_an_empty_record_and_refuse_any_other()
    {
        using var memory = Lguest.Memory.GuestMemory.Allocate(Lguest.Memory.GuestMemoryLayout.Flat(1 << 20));
        IVirtioDevice[] devices =
        [
            new VirtioRngDevice(memory),
            new VirtioConsoleDevice(memory, System.IO.Pipelines.PipeReader.Create(Stream.Null), System.IO.Pipelines.PipeWriter.Create(Stream.Null)),
        ];
        foreach (IVirtioDevice device in devices)
        {
            Assert.That(device.CaptureState(), Is.Empty, device.Name);
            device.RestoreState(Array.Empty<byte>());
            Assert.That(() => device.RestoreState(new byte[] { 1 }), Throws.TypeOf<SnapshotException>()
                .With.Message.EqualTo($"{device.Name}'s state: 1 bytes left after the last field"));
        }
    }

    [Test]
    public void A_restored_network_card_answers_to_the_mac_address_the_guest_knew()
    {
        using var bed = new Lguest.Tests.Devices.Net.NetTestBed(activate: false);
        Assert.That(bed.Device.CaptureState(), Is.EqualTo(new byte[] { 0x52, 0x54, 0x00, 0x99, 0x00, 0x02 }));
        byte[] other = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
        bed.Device.RestoreState(other);
        Assert.That(bed.Device.Mac, Is.EqualTo(new MacAddress(other)));
        byte[] config = new byte[6];
        bed.Device.ReadConfig(0, config);
        Assert.That(config, Is.EqualTo(other));
        Assert.That(() => bed.Device.RestoreState(other.AsMemory(0, 5)), Throws.TypeOf<SnapshotException>());
    }

    private static ulong EventBuffer(VsockTestBed bed, uint head) =>
        bed.Memory.Read<Lguest.Virtio.VringDescriptor>(new Lguest.Memory.GuestAddress(bed.Event.Descriptors.Value + 16 * head)).Address;
}
