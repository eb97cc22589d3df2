using System.Text;
using Lguest.Devices;
using Lguest.Devices.Interop;
using Lguest.Tests.Support;

namespace Lguest.Tests.Devices.Fs;

/// <summary>Each FUSE operation the server serves, against a temporary host folder, checked on the host side.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class VirtioFsOperationTests
{
    private TemporaryFolder _folder = null!;
    private FuseTestClient _client = null!;

    [SetUp]
    public void Start()
    {
        _folder = new TemporaryFolder();
        _client = new FuseTestClient(_folder.Path);
    }

    [TearDown]
    public void Stop()
    {
        _client.Dispose();
        _folder.Dispose();
    }

    private string Host(string name) => Path.Combine(_folder.Path, name);

    [Test]
    public void Mkdir_rmdir_unlink_and_their_refusals()
    {
        Assert.That(_client.Mkdir(FuseConstants.RootId, "d", 0x41ed, out FuseEntryOut dir), Is.Zero);
        Assert.That(Directory.Exists(Host("d")), Is.True);
        Assert.That(dir.Attr.Mode, Is.EqualTo(0x41edu));
        Assert.That(_client.Create(dir.NodeId, "f", 2, 0x81a4, out _, out ulong handle), Is.Zero);
        _client.Release(handle);
        Assert.Multiple(() =>
        {
            Assert.That(_client.Mkdir(FuseConstants.RootId, "d", 0x41ed, out _), Is.EqualTo(Errno.EEXIST));
            Assert.That(_client.Send(FuseOpcode.Rmdir, FuseConstants.RootId, FuseTestClient.Name("d")).Error, Is.EqualTo(Errno.ENOTEMPTY));
            Assert.That(_client.Send(FuseOpcode.Unlink, FuseConstants.RootId, FuseTestClient.Name("d")).Error, Is.EqualTo(Errno.EISDIR));
            Assert.That(_client.Send(FuseOpcode.Rmdir, dir.NodeId, FuseTestClient.Name("f")).Error, Is.EqualTo(Errno.ENOTDIR));
        });
        Assert.That(_client.Send(FuseOpcode.Unlink, dir.NodeId, FuseTestClient.Name("f")).Error, Is.Zero);
        Assert.That(_client.Send(FuseOpcode.Rmdir, FuseConstants.RootId, FuseTestClient.Name("d")).Error, Is.Zero);
        Assert.That(Directory.Exists(Host("d")), Is.False);
    }

    [Test]
    public void Rename_moves_replaces_exchanges_and_honours_noreplace()
    {
        File.WriteAllText(Host("a"), "A");
        File.WriteAllText(Host("b"), "B");
        Directory.CreateDirectory(Host("d"));
        ulong d = _client.LookupOk(FuseConstants.RootId, "d");
        Assert.That(_client.Rename(FuseConstants.RootId, "a", FuseConstants.RootId, "b", FsLibc.RenameNoreplace), Is.EqualTo(Errno.EEXIST));
        Assert.That(_client.Rename(FuseConstants.RootId, "a", FuseConstants.RootId, "b", FsLibc.RenameExchange), Is.Zero);
        Assert.That((File.ReadAllText(Host("a")), File.ReadAllText(Host("b"))), Is.EqualTo(("B", "A")));
        Assert.That(_client.Send(FuseOpcode.Rename, FuseConstants.RootId,
            [.. FuseTestClient.Bytes(new FuseRenameIn { NewDirectory = d }), .. FuseTestClient.Name("b"), .. FuseTestClient.Name("moved")]).Error, Is.Zero);
        Assert.That(File.ReadAllText(Host("d/moved")), Is.EqualTo("A"));
        Assert.That(_client.Rename(FuseConstants.RootId, "a", FuseConstants.RootId, "x", 4 /* RENAME_WHITEOUT */), Is.EqualTo(Errno.EINVAL));
    }

    [Test]
    public void Link_makes_a_second_name_for_the_same_node()
    {
        Assert.That(_client.Create(FuseConstants.RootId, "one", 2, 0x81a4, out FuseEntryOut one, out ulong handle), Is.Zero);
        _client.Write(handle, 0, "linked"u8.ToArray(), out _);
        _client.Release(handle);
        Assert.That(_client.Link(one.NodeId, FuseConstants.RootId, "two", out FuseEntryOut two), Is.Zero);
        Assert.That(two.NodeId, Is.EqualTo(one.NodeId), "the same host inode is the same node");
        Assert.That(two.Attr.Nlink, Is.EqualTo(2u));
        Assert.That(File.ReadAllText(Host("two")), Is.EqualTo("linked"));
        Assert.That(_client.Link(FuseConstants.RootId, FuseConstants.RootId, "rootlink", out _), Is.EqualTo(Errno.EPERM), "no hard link to a directory");
    }

    [Test]
    public void Setattr_truncates_changes_mode_and_times()
    {
        File.WriteAllText(Host("f"), "0123456789");
        ulong f = _client.LookupOk(FuseConstants.RootId, "f");
        var change = new FuseSetattrIn
        {
            Valid = FuseConstants.FattrSize | FuseConstants.FattrMode | FuseConstants.FattrMtime | FuseConstants.FattrAtime,
            Size = 4,
            Mode = 0x180, // 0600
            Mtime = 1_000_000_000,
            MtimeNsec = 5,
            Atime = 1_000_000_001,
        };
        FuseReply reply = _client.Send(FuseOpcode.Setattr, f, FuseTestClient.Bytes(change));
        Assert.That(reply.Error, Is.Zero);
        FuseAttr attr = reply.Read<FuseAttrOut>().Attr;
        Assert.That((attr.Size, attr.Mode & 0xfff, attr.Mtime, attr.MtimeNsec, attr.Atime), Is.EqualTo((4ul, 0x180u, 1_000_000_000ul, 5u, 1_000_000_001ul)));
        Assert.That(File.ReadAllText(Host("f")), Is.EqualTo("0123"));
        Assert.That(File.GetLastWriteTimeUtc(Host("f")), Is.EqualTo(DateTimeOffset.FromUnixTimeSeconds(1_000_000_000).UtcDateTime));

        // Through the guest's open handle (FATTR_FH), and times "now".
        Assert.That(_client.Open(f, FsLibc.ORdwr, out ulong handle), Is.Zero);
        var viaHandle = new FuseSetattrIn { Valid = FuseConstants.FattrSize | FuseConstants.FattrFh | FuseConstants.FattrMtimeNow, Handle = handle, Size = 100 };
        attr = _client.Send(FuseOpcode.Setattr, f, FuseTestClient.Bytes(viaHandle)).Read<FuseAttrOut>().Attr;
        Assert.That(attr.Size, Is.EqualTo(100ul));
        Assert.That(attr.Mtime, Is.GreaterThan(1_600_000_000ul));
        var badTime = new FuseSetattrIn { Valid = FuseConstants.FattrMtime, MtimeNsec = 1_000_000_000 };
        Assert.That(_client.Send(FuseOpcode.Setattr, f, FuseTestClient.Bytes(badTime)).Error, Is.EqualTo(Errno.EINVAL));
        var huge = new FuseSetattrIn { Valid = FuseConstants.FattrSize, Size = ulong.MaxValue };
        Assert.That(_client.Send(FuseOpcode.Setattr, f, FuseTestClient.Bytes(huge)).Error, Is.EqualTo(Errno.EINVAL));
    }

    [Test]
    public void Statfs_fsync_flush_fallocate_lseek_and_access()
    {
        Assert.That(_client.Create(FuseConstants.RootId, "f", 2, 0x81a4, out FuseEntryOut f, out ulong handle), Is.Zero);
        FuseReply statfs = _client.Send(FuseOpcode.Statfs, FuseConstants.RootId, []);
        Assert.That(statfs.Error, Is.Zero);
        Assert.That(statfs.Read<FuseKstatfs>().NameLength, Is.EqualTo(255u));
        Assert.That(_client.Send(FuseOpcode.Fsync, 0, FuseTestClient.Bytes(new FuseFsyncIn { Handle = handle })).Error, Is.Zero);
        Assert.That(_client.Send(FuseOpcode.Fsync, 0, FuseTestClient.Bytes(new FuseFsyncIn { Handle = handle, FsyncFlags = 1 })).Error, Is.Zero);
        Assert.That(_client.Send(FuseOpcode.Flush, 0, FuseTestClient.Bytes(new FuseFlushIn { Handle = handle })).Error, Is.Zero);
        Assert.That(_client.Send(FuseOpcode.Fallocate, 0, FuseTestClient.Bytes(new FuseFallocateIn { Handle = handle, Length = 65536 })).Error, Is.Zero);
        Assert.That(new FileInfo(Host("f")).Length, Is.EqualTo(65536));
        Assert.That(_client.Send(FuseOpcode.Fallocate, 0, FuseTestClient.Bytes(new FuseFallocateIn { Handle = handle, Length = 1, Mode = 0x40 })).Error,
            Is.EqualTo(Errno.EOPNOTSUPP), "an unknown mode bit");
        _client.Write(handle, 8192, new byte[4096], out _);
        FuseReply data = _client.Send(FuseOpcode.Lseek, 0, FuseTestClient.Bytes(new FuseLseekIn { Handle = handle, Offset = 0, Whence = FsLibc.SeekData }));
        Assert.That(data.Error, Is.Zero);
        Assert.That(_client.Send(FuseOpcode.Lseek, 0, FuseTestClient.Bytes(new FuseLseekIn { Handle = handle, Whence = 0 })).Error, Is.EqualTo(Errno.EINVAL));
        Assert.That(_client.Send(FuseOpcode.Access, f.NodeId, FuseTestClient.Bytes(new FuseAccessIn { Mask = 6 })).Error, Is.Zero);
        Assert.That(_client.Send(FuseOpcode.Access, f.NodeId, FuseTestClient.Bytes(new FuseAccessIn { Mask = 8 })).Error, Is.EqualTo(Errno.EINVAL));
        Assert.That(_client.Send(FuseOpcode.Fsyncdir, 0, FuseTestClient.Bytes(new FuseFsyncIn { Handle = handle })).Error, Is.EqualTo(Errno.EBADF));
        Assert.That(_client.Open(FuseConstants.RootId, 0, out ulong directory, FuseOpcode.Opendir), Is.Zero);
        Assert.That(_client.Send(FuseOpcode.Fsyncdir, 0, FuseTestClient.Bytes(new FuseFsyncIn { Handle = directory })).Error, Is.Zero);
    }

    [Test]
    public void Readdirplus_returns_every_entry_in_small_replies_and_counts_one_lookup_per_named_entry()
    {
        for (int i = 0; i < 300; i++)
            File.WriteAllText(Host($"file-{i:D4}-with-a-longish-name"), "");
        List<(string Name, uint Type, ulong Node)> entries = _client.ReadDirectory(FuseConstants.RootId, plus: true, size: 1024);
        Assert.That(entries.Select(e => e.Name).Order(StringComparer.Ordinal),
            Is.EqualTo(new[] { ".", ".." }.Concat(Enumerable.Range(0, 300).Select(i => $"file-{i:D4}-with-a-longish-name")).Order(StringComparer.Ordinal)));
        Assert.That(entries.Where(e => e.Name is "." or "..").Select(e => e.Node), Is.All.Zero, "no lookup counted for . and ..");
        Assert.That(entries.Where(e => e.Name.StartsWith("file", StringComparison.Ordinal)).Select(e => e.Type), Is.All.EqualTo(8u), "DT_REG");
        ulong node = entries.First(e => e.Name == "file-0007-with-a-longish-name").Node;
        Assert.That(_client.GetAttributes(node, out _), Is.Zero);
        _client.Forget(node, 1);
        Assert.That(_client.GetAttributes(node, out _), Is.EqualTo(Errno.EBADF), "the one lookup READDIRPLUS counted is gone");
        Assert.That(_client.ReadDirectory(FuseConstants.RootId, size: 100).Count, Is.EqualTo(302), "plain READDIR in replies of a few entries");
    }

    [Test]
    public void A_reply_too_small_for_one_entry_is_empty_and_a_later_one_continues()
    {
        File.WriteAllText(Host("only"), "");
        Assert.That(_client.Open(FuseConstants.RootId, 0, out ulong handle, FuseOpcode.Opendir), Is.Zero);
        FuseReply tiny = _client.Send(FuseOpcode.Readdir, 1, FuseTestClient.Bytes(new FuseReadIn { Handle = handle, Size = 20 }), replyBytes: 20);
        Assert.That((tiny.Error, tiny.Header.Length), Is.EqualTo((0, 16u)));
        Assert.That(_client.Send(FuseOpcode.Readdir, 1, FuseTestClient.Bytes(new FuseReadIn { Handle = handle, Offset = 123456789, Size = 4096 })).Error, Is.Zero,
            "an offset the directory never gave: whatever the host's lseek makes of it");
    }

    [Test]
    public void Readlink_symlink_and_host_side_changes_are_seen()
    {
        Assert.That(_client.Symlink(FuseConstants.RootId, "link", "some/where", out FuseEntryOut link), Is.Zero);
        FuseReply target = _client.Send(FuseOpcode.Readlink, link.NodeId, []);
        Assert.That(Encoding.ASCII.GetString(target.Body, 0, (int)target.Header.Length - 16), Is.EqualTo("some/where"));
        Assert.That(_client.Send(FuseOpcode.Readlink, FuseConstants.RootId, []).Error, Is.EqualTo(Errno.EINVAL), "not a link");

        File.WriteAllText(Host("host.txt"), "first");
        ulong node = _client.LookupOk(FuseConstants.RootId, "host.txt");
        File.WriteAllText(Host("host.txt"), "second, longer");
        Assert.That(_client.GetAttributes(node, out FuseAttr attr), Is.Zero);
        Assert.That(attr.Size, Is.EqualTo(14ul));
        Assert.That(_client.Open(node, 0, out ulong handle), Is.Zero);
        Assert.That(_client.Read(handle, 0, 100, out byte[] data), Is.Zero);
        Assert.That(Encoding.ASCII.GetString(data), Is.EqualTo("second, longer"));
    }

    [Test]
    public void A_megabyte_goes_both_ways_in_one_request_each()
    {
        byte[] data = new byte[1 << 20];
        new Random(7).NextBytes(data);
        Assert.That(_client.Create(FuseConstants.RootId, "big", 2, 0x81a4, out _, out ulong handle), Is.Zero);
        Assert.That(_client.Write(handle, 0, data, out uint written), Is.Zero);
        Assert.That(written, Is.EqualTo((uint)data.Length));
        Assert.That(_client.Read(handle, 0, 1 << 20, out byte[] back), Is.Zero);
        Assert.That(back, Is.EqualTo(data));
        Assert.That(File.ReadAllBytes(Host("big")), Is.EqualTo(data));
    }

    [Test]
    public void Create_without_O_EXCL_opens_an_existing_file_and_truncates_it_when_asked()
    {
        File.WriteAllText(Host("exists"), "old contents");
        Assert.That(_client.Create(FuseConstants.RootId, "exists", 2, 0x81a4, out FuseEntryOut entry, out ulong handle), Is.Zero);
        Assert.That(entry.Attr.Size, Is.EqualTo(12ul));
        Assert.That(_client.Create(FuseConstants.RootId, "exists", 2 | FsLibc.OTrunc, 0x81a4, out _, out _), Is.Zero);
        Assert.That(new FileInfo(Host("exists")).Length, Is.Zero);
        Assert.That(_client.Create(FuseConstants.RootId, "exists", 2 | FsLibc.OExcl, 0x81a4, out _, out _), Is.EqualTo(Errno.EEXIST));
        Assert.That(_client.Release(handle), Is.Zero);
    }
}
