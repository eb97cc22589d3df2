using Lguest.Devices;
using Lguest.Devices.Interop;
using Lguest.Tests.Support;

namespace Lguest.Tests.Devices.Vsock;

/// <summary>The wire and kernel structures the device reads, checked against the C headers.</summary>
public class VsockLayoutTests
{
    [Test]
    public void The_header_matches_struct_virtio_vsock_hdr()
    {
        IReadOnlyDictionary<string, ulong> c = CLayout.Evaluate(["linux/virtio_vsock.h"],
        [
            "sizeof(struct virtio_vsock_hdr)", "offsetof(struct virtio_vsock_hdr, src_cid)", "offsetof(struct virtio_vsock_hdr, dst_cid)",
            "offsetof(struct virtio_vsock_hdr, src_port)", "offsetof(struct virtio_vsock_hdr, dst_port)", "offsetof(struct virtio_vsock_hdr, len)",
            "offsetof(struct virtio_vsock_hdr, type)", "offsetof(struct virtio_vsock_hdr, op)", "offsetof(struct virtio_vsock_hdr, flags)",
            "offsetof(struct virtio_vsock_hdr, buf_alloc)", "offsetof(struct virtio_vsock_hdr, fwd_cnt)",
            "sizeof(struct virtio_vsock_config)", "VIRTIO_VSOCK_TYPE_STREAM", "VIRTIO_VSOCK_OP_CREDIT_REQUEST",
            "VIRTIO_VSOCK_SHUTDOWN_RCV", "VIRTIO_VSOCK_SHUTDOWN_SEND", "VIRTIO_ID_VSOCK",
        ]);
        Assert.Multiple(() =>
        {
            Assert.That(c["sizeof(struct virtio_vsock_hdr)"], Is.EqualTo((ulong)VsockHeader.Size));
            Assert.That(c["offsetof(struct virtio_vsock_hdr, src_cid)"], Is.EqualTo((ulong)VsockHeader.SourceCidOffset));
            Assert.That(c["offsetof(struct virtio_vsock_hdr, dst_cid)"], Is.EqualTo((ulong)VsockHeader.DestinationCidOffset));
            Assert.That(c["offsetof(struct virtio_vsock_hdr, src_port)"], Is.EqualTo((ulong)VsockHeader.SourcePortOffset));
            Assert.That(c["offsetof(struct virtio_vsock_hdr, dst_port)"], Is.EqualTo((ulong)VsockHeader.DestinationPortOffset));
            Assert.That(c["offsetof(struct virtio_vsock_hdr, len)"], Is.EqualTo((ulong)VsockHeader.LengthOffset));
            Assert.That(c["offsetof(struct virtio_vsock_hdr, type)"], Is.EqualTo((ulong)VsockHeader.TypeOffset));
            Assert.That(c["offsetof(struct virtio_vsock_hdr, op)"], Is.EqualTo((ulong)VsockHeader.OpOffset));
            Assert.That(c["offsetof(struct virtio_vsock_hdr, flags)"], Is.EqualTo((ulong)VsockHeader.FlagsOffset));
            Assert.That(c["offsetof(struct virtio_vsock_hdr, buf_alloc)"], Is.EqualTo((ulong)VsockHeader.BufferAllocationOffset));
            Assert.That(c["offsetof(struct virtio_vsock_hdr, fwd_cnt)"], Is.EqualTo((ulong)VsockHeader.ForwardCountOffset));
            Assert.That(c["sizeof(struct virtio_vsock_config)"], Is.EqualTo((ulong)VirtioVsockDevice.ConfigurationSize));
            Assert.That(c["VIRTIO_VSOCK_TYPE_STREAM"], Is.EqualTo((ulong)VsockHeader.TypeStream));
            Assert.That(c["VIRTIO_VSOCK_OP_CREDIT_REQUEST"], Is.EqualTo((ulong)VsockOp.CreditRequest));
            Assert.That(c["VIRTIO_VSOCK_SHUTDOWN_RCV"], Is.EqualTo((ulong)VsockShutdown.Receive));
            Assert.That(c["VIRTIO_VSOCK_SHUTDOWN_SEND"], Is.EqualTo((ulong)VsockShutdown.Send));
            Assert.That(c["VIRTIO_ID_VSOCK"], Is.EqualTo((ulong)Lguest.Virtio.VirtioDeviceType.Vsock));
        });
    }

    [Test]
    public void A_header_reads_back_what_was_written()
    {
        var header = new VsockHeader
        {
            SourceCid = 0x0102030405060708, DestinationCid = 2, SourcePort = 0xdeadbeef, DestinationPort = 52, Length = 4096,
            Type = 1, Op = 5, Flags = 3, BufferAllocation = 262144, ForwardCount = 0xffff_fff0,
        };
        byte[] wire = new byte[VsockHeader.Size];
        header.Write(wire);
        Assert.That(VsockHeader.Read(wire), Is.EqualTo(header));
        Assert.That(wire[0], Is.EqualTo(0x08), "little-endian");
    }

    [Test]
    public void The_stat_fields_the_device_reads_match_sys_stat_h()
    {
        IReadOnlyDictionary<string, ulong> c = CLayout.Evaluate(["sys/stat.h"],
            ["sizeof(struct stat)", "offsetof(struct stat, st_mode)", "S_IFMT", "S_IFSOCK", "sizeof(((struct stat *)0)->st_mode)"]);
        Assert.Multiple(() =>
        {
            Assert.That(c["sizeof(struct stat)"], Is.EqualTo((ulong)FileStatus.StatSize));
            Assert.That(c["offsetof(struct stat, st_mode)"], Is.EqualTo((ulong)FileStatus.ModeOffset));
            Assert.That(c["sizeof(((struct stat *)0)->st_mode)"], Is.EqualTo(4UL));
            Assert.That(c["S_IFMT"], Is.EqualTo((ulong)FileStatus.TypeMask));
            Assert.That(c["S_IFSOCK"], Is.EqualTo((ulong)FileStatus.Socket));
        });
    }
}
