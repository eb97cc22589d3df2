using System.Text;
using Lguest.Devices;
using Lguest.Devices.Interop;

namespace Lguest.Tests.Devices.Fs;

/// <summary>
/// A guest (and a host racing it) cannot reach outside the shared folder: not with "..", not through a
/// symbolic link it or the host made (relative or absolute), not with a hard link, a rename, or a directory
/// the host swaps for a link while the guest works in it. Each test ends with the canary outside untouched.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class VirtioFsContainmentTests
{
    private const uint ReadWrite = 2;
    private FsFixture _fs = null!;
    private FuseTestClient _client = null!;

    [SetUp]
    public void Start()
    {
        _fs = new FsFixture();
        _client = new FuseTestClient(_fs.Share);
    }

    [TearDown]
    public void Stop()
    {
        _client.Dispose();
        _fs.AssertCanaryUntouched();
        _fs.Dispose();
    }

    [TestCase("..")]
    [TestCase(".")]
    [TestCase("../outside")]
    [TestCase("sub/../../outside")]
    [TestCase("/etc")]
    public void A_name_that_is_not_one_component_is_refused(string name)
    {
        Directory.CreateDirectory(_fs.InShare("sub"));
        Assert.That(_client.Lookup(FuseConstants.RootId, name, out _), Is.EqualTo(Errno.EINVAL));
        Assert.That(_client.Create(FuseConstants.RootId, name, ReadWrite, 0x81a4, out _, out _), Is.EqualTo(Errno.EINVAL));
        Assert.That(_client.Rename(FuseConstants.RootId, "sub", FuseConstants.RootId, name), Is.EqualTo(Errno.EINVAL));
    }

    [TestCase("..")]
    [TestCase("../outside/canary.txt")]
    [TestCase("sub/../../outside/canary.txt")]
    public void The_kernel_refuses_a_path_that_climbs_out_even_past_the_name_check(string path)
    {
        Directory.CreateDirectory(_fs.InShare("sub"));
        using var fs = new PassthroughFileSystem(_fs.Share, 64, 16, TimeSpan.Zero);
        Assert.That(fs.LookupTestHook(FuseConstants.RootId, path, out _), Is.EqualTo(Errno.EXDEV), "RESOLVE_BENEATH");
    }

    [TestCase("../outside")]
    [TestCase("ABSOLUTE")]
    public void A_host_symlink_out_of_the_share_is_a_link_node_never_followed_on_the_host(string target)
    {
        File.CreateSymbolicLink(_fs.InShare("up"), target == "ABSOLUTE" ? _fs.Outside : target);
        Assert.That(_client.Lookup(FuseConstants.RootId, "up", out FuseEntryOut up), Is.Zero);
        Assert.That(up.Attr.Mode & FsLibc.SIfmt, Is.EqualTo(FsLibc.SIflnk), "the link itself");
        Assert.Multiple(() =>
        {
            Assert.That(_client.Lookup(up.NodeId, "canary.txt", out _), Is.EqualTo(Errno.ENOTDIR));
            Assert.That(_client.Open(up.NodeId, 0, out _), Is.EqualTo(Errno.ELOOP));
            Assert.That(_client.Open(up.NodeId, 0, out _, FuseOpcode.Opendir), Is.EqualTo(Errno.ENOTDIR));
            Assert.That(_client.Create(up.NodeId, "planted", ReadWrite, 0x81a4, out _, out _), Is.EqualTo(Errno.ENOTDIR));
            Assert.That(_client.Mkdir(up.NodeId, "planted", 0x41ed, out _), Is.EqualTo(Errno.ENOTDIR));
        });
        using var fs = new PassthroughFileSystem(_fs.Share, 64, 16, TimeSpan.Zero);
        Assert.That(fs.LookupTestHook(FuseConstants.RootId, "up/canary.txt", out _), Is.EqualTo(Errno.ELOOP), "RESOLVE_NO_SYMLINKS");
    }

    [Test]
    public void A_guests_symlink_to_the_hosts_root_is_stored_as_text_and_never_followed()
    {
        Assert.That(_client.Symlink(FuseConstants.RootId, "root", "/", out FuseEntryOut link), Is.Zero);
        Assert.That(_client.Symlink(FuseConstants.RootId, "climb", "../../../../..", out _), Is.Zero);
        Assert.That(new FileInfo(_fs.InShare("root")).LinkTarget, Is.EqualTo("/"));
        FuseReply target = _client.Send(FuseOpcode.Readlink, link.NodeId, []);
        Assert.That(Encoding.ASCII.GetString(target.Body, 0, (int)target.Header.Length - 16), Is.EqualTo("/"));
        Assert.That(_client.Lookup(link.NodeId, "etc", out _), Is.EqualTo(Errno.ENOTDIR));
        Assert.That(_client.Open(link.NodeId, 0, out _), Is.EqualTo(Errno.ELOOP));
    }

    [Test]
    public void Creating_over_a_host_symlink_to_a_file_outside_never_opens_or_truncates_it()
    {
        File.CreateSymbolicLink(_fs.InShare("trap"), _fs.Canary);
        Assert.That(_client.Create(FuseConstants.RootId, "trap", ReadWrite | FsLibc.OTrunc, 0x81a4, out _, out _), Is.EqualTo(Errno.ELOOP));
        Assert.That(_client.Create(FuseConstants.RootId, "trap", ReadWrite | FsLibc.OExcl, 0x81a4, out _, out _), Is.EqualTo(Errno.EEXIST));
        ulong trap = _client.LookupOk(FuseConstants.RootId, "trap");
        Assert.That(_client.Open(trap, ReadWrite | FsLibc.OTrunc, out _), Is.EqualTo(Errno.ELOOP));
        var setSize = new FuseSetattrIn { Valid = FuseConstants.FattrSize, Size = 0 };
        Assert.That(_client.Send(FuseOpcode.Setattr, trap, FuseTestClient.Bytes(setSize)).Error, Is.EqualTo(Errno.EINVAL));
        var chmod = new FuseSetattrIn { Valid = FuseConstants.FattrMode, Mode = 0x1ff };
        Assert.That(_client.Send(FuseOpcode.Setattr, trap, FuseTestClient.Bytes(chmod)).Error, Is.EqualTo(Errno.EOPNOTSUPP));
    }

    [Test]
    public void A_hard_link_can_only_name_nodes_of_the_share_and_a_link_to_a_symlink_links_the_symlink()
    {
        File.CreateSymbolicLink(_fs.InShare("up"), _fs.Canary);
        ulong up = _client.LookupOk(FuseConstants.RootId, "up");
        Assert.That(_client.Link(987654, FuseConstants.RootId, "stolen", out _), Is.EqualTo(Errno.EBADF), "a node the guest made up");
        int linked = _client.Link(up, FuseConstants.RootId, "up2", out FuseEntryOut entry);
        // With CAP_DAC_READ_SEARCH the link names the symbolic link itself; without it the kernel refuses.
        Assert.That(linked, Is.Zero.Or.EqualTo(Errno.ENOENT));
        if (linked == 0)
        {
            Assert.That(entry.Attr.Mode & FsLibc.SIfmt, Is.EqualTo(FsLibc.SIflnk));
            Assert.That(new FileInfo(_fs.InShare("up2")).LinkTarget, Is.EqualTo(_fs.Canary));
        }
    }

    [Test]
    public void A_rename_cannot_cross_the_boundary()
    {
        File.WriteAllText(_fs.InShare("file"), "in the share");
        File.CreateSymbolicLink(_fs.InShare("up"), _fs.Outside);
        ulong up = _client.LookupOk(FuseConstants.RootId, "up");
        Assert.Multiple(() =>
        {
            Assert.That(_client.Rename(FuseConstants.RootId, "file", up, "file"), Is.EqualTo(Errno.ENOTDIR), "into a link's target");
            Assert.That(_client.Rename(FuseConstants.RootId, "file", 424242, "file"), Is.EqualTo(Errno.EBADF), "into an unknown node");
            Assert.That(_client.Rename(FuseConstants.RootId, "file", FuseConstants.RootId, "../outside/file"), Is.EqualTo(Errno.EINVAL));
            Assert.That(_client.Rename(FuseConstants.RootId, "file", FuseConstants.RootId, "up/file"), Is.EqualTo(Errno.EINVAL));
        });
        // Over the link itself: the link is replaced, its target untouched.
        Assert.That(_client.Rename(FuseConstants.RootId, "file", FuseConstants.RootId, "up"), Is.Zero);
        Assert.That(File.ReadAllText(_fs.InShare("up")), Is.EqualTo("in the share"));
    }

    [Test]
    public void A_directory_the_host_swaps_for_a_symlink_keeps_the_guests_calls_in_the_old_directory()
    {
        Directory.CreateDirectory(_fs.InShare("dir"));
        ulong dir = _client.LookupOk(FuseConstants.RootId, "dir");
        Directory.Move(_fs.InShare("dir"), _fs.InShare("dir.old"));
        File.CreateSymbolicLink(_fs.InShare("dir"), _fs.Outside);

        Assert.That(_client.Lookup(dir, "canary.txt", out _), Is.EqualTo(Errno.ENOENT), "looked up in the directory the node is");
        Assert.That(_client.Create(dir, "new.txt", ReadWrite, 0x81a4, out _, out ulong handle), Is.Zero);
        Assert.That(_client.Release(handle), Is.Zero);
        Assert.That(File.Exists(_fs.InShare("dir.old/new.txt")), Is.True);
        Assert.That(_client.Lookup(FuseConstants.RootId, "dir", out FuseEntryOut swapped), Is.Zero);
        Assert.That(swapped.Attr.Mode & FsLibc.SIfmt, Is.EqualTo(FsLibc.SIflnk), "the new name is the link, not followed");
    }

    [Test]
    public void A_host_swapping_a_directory_and_a_symlink_in_a_loop_never_lets_a_guest_request_out()
    {
        string dir = _fs.InShare("dir"), away = _fs.InShare("dir.away"), link = _fs.InShare("link");
        Directory.CreateDirectory(dir);
        File.CreateSymbolicLink(link, _fs.Outside);
        using var stop = new CancellationTokenSource();
        // The host: dir <-> link, as fast as it can, while the guest looks up, creates, writes and removes in "dir".
        var swapper = Task.Run(() =>
        {
            for (long n = 0; !stop.IsCancellationRequested; n++)
            {
                try
                {
                    Directory.Move(dir, away);
                    File.Move(link, dir);
                    File.Move(dir, link);
                    Directory.Move(away, dir);
                }
                catch (IOException)
                {
                }
            }
        });
        try
        {
            for (int i = 0; i < 300; i++)
            {
                if (_client.Lookup(FuseConstants.RootId, "dir", out FuseEntryOut entry) != 0)
                    continue;
                _client.Lookup(entry.NodeId, "canary.txt", out _);
                string name = $"f{i}";
                if (_client.Create(entry.NodeId, name, ReadWrite | FsLibc.OTrunc, 0x81a4, out _, out ulong handle) == 0)
                {
                    _client.Write(handle, 0, [1, 2, 3], out _);
                    _client.Release(handle);
                }
                _client.Send(FuseOpcode.Unlink, entry.NodeId, FuseTestClient.Name("canary.txt"));
                _client.Forget(entry.NodeId, 1);
            }
        }
        finally
        {
            stop.Cancel();
            swapper.Wait();
        }
    }
}
