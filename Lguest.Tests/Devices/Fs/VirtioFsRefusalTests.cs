using System.Runtime.InteropServices;
using Lguest.Devices;
using Lguest.Memory;
using Lguest.Tests.Support;

namespace Lguest.Tests.Devices.Fs;

/// <summary>
/// Hostile requests: every malformed field is an errno for that request, and only a chain that cannot carry a
/// request or a reply at all puts the device in DEVICE_NEEDS_RESET. The device goes on serving after each errno.
/// </summary>
public class VirtioFsRefusalTests
{
    private TemporaryFolder _folder = null!;
    private FuseTestClient _client = null!;

    [SetUp]
    public void Start()
    {
        _folder = new TemporaryFolder();
        File.WriteAllText(Path.Combine(_folder.Path, "file"), "contents");
        _client = new FuseTestClient(_folder.Path);
    }

    [TearDown]
    public void Stop()
    {
        // Whatever came before, the device still answers.
        if (_client.Transport.BadDrivers.Count == 0)
            Assert.That(_client.Lookup(FuseConstants.RootId, "file", out _), Is.Zero, "the device still serves");
        _client.Dispose();
        _folder.Dispose();
    }

    [Test]
    public void A_request_before_init_gets_EIO()
    {
        using var fresh = new FuseTestClient(_folder.Path, initialize: false);
        Assert.That(fresh.Lookup(FuseConstants.RootId, "file", out _), Is.EqualTo(Errno.EIO));
    }

    [Test]
    public void Init_from_a_client_older_than_7_31_gets_EPROTO_and_a_newer_major_gets_ours()
    {
        using var fresh = new FuseTestClient(_folder.Path, initialize: false);
        Assert.That(fresh.Send(FuseOpcode.Init, 0, FuseTestClient.Bytes(new FuseInitIn { Major = 7, Minor = 30 })).Error, Is.EqualTo(Errno.EPROTO));
        FuseReply newer = fresh.Send(FuseOpcode.Init, 0, FuseTestClient.Bytes(new FuseInitIn { Major = 8, Minor = 0 }));
        Assert.That((newer.Error, newer.Read<FuseInitOut>().Major), Is.EqualTo((0, 7u)));
        Assert.That(fresh.Lookup(FuseConstants.RootId, "file", out _), Is.EqualTo(Errno.EIO), "neither finished INIT");
        Assert.That(fresh.Send(FuseOpcode.Init, 0, new byte[8]).Error, Is.EqualTo(Errno.EINVAL), "a truncated fuse_init_in");
    }

    [TestCase((uint)FuseOpcode.Getxattr)]
    [TestCase((uint)FuseOpcode.Setlk)]
    [TestCase((uint)FuseOpcode.Interrupt)]
    [TestCase((uint)FuseOpcode.Tmpfile)]
    [TestCase(9999u)]
    public void Opcodes_not_served_get_ENOSYS(uint opcode) =>
        Assert.That(_client.Send((FuseOpcode)opcode, FuseConstants.RootId, new byte[64]).Error, Is.EqualTo(Errno.ENOSYS));

    [TestCase(39u)]
    [TestCase(0u)]
    [TestCase(100_000u)]
    [TestCase(uint.MaxValue)]
    public void A_header_length_outside_the_chain_gets_EINVAL(uint length) =>
        Assert.That(_client.Send(FuseOpcode.Lookup, FuseConstants.RootId, FuseTestClient.Name("file"), length: length).Error, Is.EqualTo(Errno.EINVAL));

    [Test]
    public void Names_that_are_not_one_component_or_have_no_end_are_refused()
    {
        Assert.Multiple(() =>
        {
            Assert.That(_client.Send(FuseOpcode.Lookup, FuseConstants.RootId, "file"u8).Error, Is.EqualTo(Errno.EINVAL), "no NUL");
            Assert.That(_client.Send(FuseOpcode.Lookup, FuseConstants.RootId, [0]).Error, Is.EqualTo(Errno.EINVAL), "empty");
            Assert.That(_client.Lookup(FuseConstants.RootId, "a/b", out _), Is.EqualTo(Errno.EINVAL));
            Assert.That(_client.Lookup(FuseConstants.RootId, new string('n', 255), out _), Is.EqualTo(Errno.ENOENT), "NAME_MAX is a name");
            Assert.That(_client.Lookup(FuseConstants.RootId, new string('n', 256), out _), Is.EqualTo(Errno.ENAMETOOLONG));
            Assert.That(_client.Send(FuseOpcode.Lookup, FuseConstants.RootId, new byte[300]).Error, Is.EqualTo(Errno.EINVAL), "NUL first");
            Assert.That(_client.Send(FuseOpcode.Lookup, FuseConstants.RootId, "file\0../../etc\0"u8).Error, Is.Zero, "a NUL ends the name");
            Assert.That(_client.Send(FuseOpcode.Rename, FuseConstants.RootId, [.. FuseTestClient.Bytes(new FuseRenameIn { NewDirectory = 1 }), .. "file\0"u8]).Error,
                Is.EqualTo(Errno.EINVAL), "no second name");
            Assert.That(_client.Send(FuseOpcode.Symlink, FuseConstants.RootId, "link\0target"u8).Error, Is.EqualTo(Errno.EINVAL), "a target with no end");
            Assert.That(_client.Symlink(FuseConstants.RootId, "link", new string('t', 4096), out _), Is.EqualTo(Errno.ENAMETOOLONG));
        });
    }

    [Test]
    public void Arguments_longer_than_any_request_needs_get_E2BIG() =>
        Assert.That(_client.Send(FuseOpcode.Lookup, FuseConstants.RootId, new byte[FuseServer.MaxArgumentBytes + 1]).Error, Is.EqualTo(Errno.E2BIG));

    [TestCase((uint)FuseOpcode.Setattr)]
    [TestCase((uint)FuseOpcode.Mknod)]
    [TestCase((uint)FuseOpcode.Mkdir)]
    [TestCase((uint)FuseOpcode.Rename)]
    [TestCase((uint)FuseOpcode.Rename2)]
    [TestCase((uint)FuseOpcode.Link)]
    [TestCase((uint)FuseOpcode.Open)]
    [TestCase((uint)FuseOpcode.Opendir)]
    [TestCase((uint)FuseOpcode.Create)]
    [TestCase((uint)FuseOpcode.Read)]
    [TestCase((uint)FuseOpcode.Write)]
    [TestCase((uint)FuseOpcode.Readdir)]
    [TestCase((uint)FuseOpcode.Readdirplus)]
    [TestCase((uint)FuseOpcode.Release)]
    [TestCase((uint)FuseOpcode.Releasedir)]
    [TestCase((uint)FuseOpcode.Flush)]
    [TestCase((uint)FuseOpcode.Fsync)]
    [TestCase((uint)FuseOpcode.Fsyncdir)]
    [TestCase((uint)FuseOpcode.Access)]
    [TestCase((uint)FuseOpcode.Fallocate)]
    [TestCase((uint)FuseOpcode.Lseek)]
    public void A_request_whose_arguments_are_cut_short_gets_an_errno(uint opcode)
    {
        FuseReply reply = _client.Send((FuseOpcode)opcode, FuseConstants.RootId, new byte[3]);
        Assert.That(reply.Error, Is.EqualTo(Errno.EINVAL), ((FuseOpcode)opcode).ToString());
    }

    [Test]
    public void Unknown_nodes_and_handles_get_EBADF()
    {
        Assert.Multiple(() =>
        {
            Assert.That(_client.Lookup(77777, "file", out _), Is.EqualTo(Errno.EBADF));
            Assert.That(_client.GetAttributes(0, out _), Is.EqualTo(Errno.EBADF));
            Assert.That(_client.GetAttributes(ulong.MaxValue, out _), Is.EqualTo(Errno.EBADF));
            Assert.That(_client.Read(12345, 0, 10, out _), Is.EqualTo(Errno.EBADF));
            Assert.That(_client.Write(12345, 0, [1], out _), Is.EqualTo(Errno.EBADF));
            Assert.That(_client.Release(12345), Is.EqualTo(Errno.EBADF));
            Assert.That(_client.Send(FuseOpcode.Readdir, 1, FuseTestClient.Bytes(new FuseReadIn { Handle = 5, Size = 4096 })).Error, Is.EqualTo(Errno.EBADF));
        });
        // A file handle is not a directory handle, nor the other way round.
        ulong node = _client.LookupOk(FuseConstants.RootId, "file");
        Assert.That(_client.Open(node, 0, out ulong file), Is.Zero);
        Assert.That(_client.Open(FuseConstants.RootId, 0, out ulong directory, FuseOpcode.Opendir), Is.Zero);
        Assert.That(_client.Send(FuseOpcode.Readdir, 1, FuseTestClient.Bytes(new FuseReadIn { Handle = file, Size = 4096 })).Error, Is.EqualTo(Errno.EBADF));
        Assert.That(_client.Read(directory, 0, 10, out _), Is.EqualTo(Errno.EBADF));
        Assert.That(_client.Release(directory), Is.EqualTo(Errno.EBADF));
        Assert.That(_client.Release(file, FuseOpcode.Releasedir), Is.EqualTo(Errno.EBADF));
    }

    [Test]
    public void A_write_claiming_more_data_than_it_carries_or_more_than_max_write_gets_EINVAL()
    {
        Assert.That(_client.Create(FuseConstants.RootId, "w", 2, 0x81a4, out _, out ulong handle), Is.Zero);
        FuseReply lying = _client.Send(FuseOpcode.Write, 0, FuseTestClient.Bytes(new FuseWriteIn { Handle = handle, Size = 4096 }), data: new byte[100]);
        FuseReply huge = _client.Send(FuseOpcode.Write, 0, FuseTestClient.Bytes(new FuseWriteIn { Handle = handle, Size = (1 << 20) + 1 }), data: new byte[(1 << 20) + 1]);
        FuseReply past = _client.Send(FuseOpcode.Write, 0, FuseTestClient.Bytes(new FuseWriteIn { Handle = handle, Offset = ulong.MaxValue - 1, Size = 1 }), data: new byte[1]);
        Assert.That((lying.Error, huge.Error, past.Error), Is.EqualTo((Errno.EINVAL, Errno.EINVAL, Errno.EINVAL)));
        Assert.That(new FileInfo(Path.Combine(_folder.Path, "w")).Length, Is.Zero);
    }

    [Test]
    public void A_read_asking_for_more_than_the_buffers_hold_fills_only_the_buffers()
    {
        ulong node = _client.LookupOk(FuseConstants.RootId, "file");
        Assert.That(_client.Open(node, 0, out ulong handle), Is.Zero);
        FuseReply reply = _client.Send(FuseOpcode.Read, 0, FuseTestClient.Bytes(new FuseReadIn { Handle = handle, Size = uint.MaxValue }), replyBytes: 4);
        Assert.That((reply.Error, reply.Header.Length, reply.Used), Is.EqualTo((0, 20u, 20u)));
        Assert.That(reply.Body, Is.EqualTo("cont"u8.ToArray()));
    }

    [Test]
    public void A_reply_that_does_not_fit_the_guests_buffers_gets_ERANGE()
    {
        FuseReply reply = _client.Send(FuseOpcode.Lookup, FuseConstants.RootId, FuseTestClient.Name("file"), replyBytes: 64);
        Assert.That((reply.Error, reply.Used), Is.EqualTo((Errno.ERANGE, 16u)));
    }

    [Test]
    public void A_chain_shorter_than_fuse_in_header_puts_the_device_in_needs_reset()
    {
        var buffers = new List<DriverBuffer> { _client.Requests.Readable(new byte[39]), _client.Requests.Writable(4096) };
        _client.Requests.Add(buffers.ToArray());
        _client.Requests.Kick();
        Assert.That(_client.Transport.WaitForBadDriver().Message, Does.Contain("shorter than fuse_in_header"));
    }

    [Test]
    public void A_request_with_no_room_for_a_reply_header_puts_the_device_in_needs_reset()
    {
        var header = new FuseInHeader { Length = 45, Opcode = (uint)FuseOpcode.Lookup, NodeId = 1 };
        var buffers = new List<DriverBuffer> { _client.Requests.Readable([.. FuseTestClient.Bytes(header), .. FuseTestClient.Name("file")]), _client.Requests.Writable(15) };
        _client.Requests.Add(buffers.ToArray());
        _client.Requests.Kick();
        Assert.That(_client.Transport.WaitForBadDriver().Message, Does.Contain("no room for fuse_out_header"));
    }

    [Test]
    public void Forgets_that_are_malformed_or_name_unknown_nodes_are_dropped_without_a_reply()
    {
        ulong node = _client.LookupOk(FuseConstants.RootId, "file");
        Assert.Multiple(() =>
        {
            Assert.That(_client.SendHighPriority(FuseOpcode.Forget, node, new byte[3]), Is.Zero);
            Assert.That(_client.SendHighPriority(FuseOpcode.Forget, 999999, FuseTestClient.Bytes(new FuseForgetIn { Lookups = 5 })), Is.Zero);
            Assert.That(_client.SendHighPriority(FuseOpcode.Forget, FuseConstants.RootId, FuseTestClient.Bytes(new FuseForgetIn { Lookups = ulong.MaxValue })), Is.Zero);
            var batch = new FuseBatchForgetIn { Count = uint.MaxValue };
            Assert.That(_client.SendHighPriority(FuseOpcode.BatchForget, 0,
                [.. FuseTestClient.Bytes(batch), .. FuseTestClient.Bytes(new FuseForgetOne { NodeId = 424242, Lookups = 1 })]), Is.Zero);
        });
        Assert.That(_client.GetAttributes(node, out _), Is.Zero, "one FORGET of 3 bytes forgets nothing");
        Assert.That(_client.GetAttributes(FuseConstants.RootId, out _), Is.Zero, "the root is never forgotten");
        var one = new FuseBatchForgetIn { Count = 1 };
        _client.SendHighPriority(FuseOpcode.BatchForget, 0, [.. FuseTestClient.Bytes(one), .. FuseTestClient.Bytes(new FuseForgetOne { NodeId = node, Lookups = 1 })]);
        Assert.That(_client.GetAttributes(node, out _), Is.EqualTo(Errno.EBADF), "BATCH_FORGET forgot it");
    }

    [Test]
    public void Open_flags_the_host_must_not_honour_are_dropped_and_a_fifo_is_never_opened()
    {
        Assert.That(_client.Send(FuseOpcode.Mknod, FuseConstants.RootId,
            [.. FuseTestClient.Bytes(new FuseMknodIn { Mode = 0x11a4 /* S_IFIFO | 0644 */ }), .. FuseTestClient.Name("fifo")]).Error, Is.Zero);
        ulong fifo = _client.LookupOk(FuseConstants.RootId, "fifo");
        Assert.That(_client.Open(fifo, 0, out _), Is.EqualTo(Errno.ENXIO), "no OPEN of a FIFO: it could block the worker");
        Assert.That(_client.Create(FuseConstants.RootId, "fifo", 0, 0x81a4, out _, out _), Is.EqualTo(Errno.ENXIO), "nor through CREATE");
        Assert.That(_client.Send(FuseOpcode.Mknod, FuseConstants.RootId,
            [.. FuseTestClient.Bytes(new FuseMknodIn { Mode = 0x21a4 /* S_IFCHR */, Rdev = 0x0103 }), .. FuseTestClient.Name("null")]).Error, Is.EqualTo(Errno.EPERM));
        Assert.That(_client.Send(FuseOpcode.Mknod, FuseConstants.RootId,
            [.. FuseTestClient.Bytes(new FuseMknodIn { Mode = 0x61a4 /* S_IFBLK */ }), .. FuseTestClient.Name("disk")]).Error, Is.EqualTo(Errno.EPERM));
        ulong file = _client.LookupOk(FuseConstants.RootId, "file");
        Assert.That(_client.Open(file, 3 /* O_ACCMODE */, out _), Is.EqualTo(Errno.EINVAL));
        // O_PATH, O_DIRECTORY, O_CREAT, O_TMPFILE bits from the guest: dropped, a plain read-only open.
        Assert.That(_client.Open(file, 0x200000 | 0x10000 | 0x40 | 0x400000, out ulong handle), Is.Zero);
        Assert.That(_client.Read(handle, 0, 8, out byte[] data), Is.Zero);
        Assert.That(data, Is.EqualTo("contents"u8.ToArray()));
    }

    [Test]
    public void Set_user_and_group_id_bits_are_never_set_on_the_host()
    {
        Assert.That(_client.Create(FuseConstants.RootId, "suid", 2, 0x8000 | 0xded /* 06755 */, out FuseEntryOut entry, out _), Is.Zero);
        Assert.That(entry.Attr.Mode & 0xfff, Is.EqualTo(0x1ed), "0755");
        var chmod = new FuseSetattrIn { Valid = FuseConstants.FattrMode, Mode = 0xded };
        Assert.That(_client.Send(FuseOpcode.Setattr, entry.NodeId, FuseTestClient.Bytes(chmod)).Read<FuseAttrOut>().Attr.Mode & 0xfff, Is.EqualTo(0x1ed));
        Assert.That(_client.Mkdir(FuseConstants.RootId, "sgid", 0x4000 | 0xfff /* 07777 */, out FuseEntryOut dir), Is.Zero);
        Assert.That(dir.Attr.Mode & 0xfff, Is.EqualTo(0x3ff), "sticky kept, set-ID dropped");
    }
}
