using Lguest.Devices;
using Lguest.Tests.Support;

namespace Lguest.Tests.Devices.Fs;

/// <summary>
/// A guest that looks names up and never forgets them, or opens files and never releases them, meets a cap
/// and a clear errno (ENFILE, EMFILE), not the host's last file descriptor; what it gives back it can use again.
/// </summary>
public class VirtioFsLimitTests
{
    private TemporaryFolder _folder = null!;

    [SetUp]
    public void Start()
    {
        _folder = new TemporaryFolder();
        for (int i = 0; i < 40; i++)
            File.WriteAllText(Path.Combine(_folder.Path, $"f{i}"), "x");
    }

    [TearDown]
    public void Stop() => _folder.Dispose();

    [Test]
    public void Past_the_inode_cap_lookups_fail_with_ENFILE_and_a_forget_makes_room()
    {
        using var client = new FuseTestClient(_folder.Path, o => o.MaxInodes = 8);
        var nodes = new List<ulong>();
        for (int i = 0; i < 7; i++)
            nodes.Add(client.LookupOk(FuseConstants.RootId, $"f{i}"));
        Assert.That(client.Lookup(FuseConstants.RootId, "f7", out _), Is.EqualTo(Errno.ENFILE));
        Assert.That(client.Lookup(FuseConstants.RootId, "f3", out FuseEntryOut again), Is.Zero, "a node already held is no new one");
        Assert.That(again.NodeId, Is.EqualTo(nodes[3]));
        client.Forget(nodes[0], 1);
        Assert.That(client.Lookup(FuseConstants.RootId, "f7", out _), Is.Zero);
        Assert.That(client.Lookup(FuseConstants.RootId, "f8", out _), Is.EqualTo(Errno.ENFILE));
    }

    [Test]
    public void Past_the_handle_cap_opens_fail_with_EMFILE_and_a_release_makes_room()
    {
        using var client = new FuseTestClient(_folder.Path, o => o.MaxHandles = 4);
        ulong node = client.LookupOk(FuseConstants.RootId, "f0");
        var handles = new List<ulong>();
        for (int i = 0; i < 4; i++)
        {
            Assert.That(client.Open(node, 0, out ulong handle), Is.Zero);
            handles.Add(handle);
        }
        Assert.Multiple(() =>
        {
            Assert.That(client.Open(node, 0, out _), Is.EqualTo(Errno.EMFILE));
            Assert.That(client.Open(FuseConstants.RootId, 0, out _, FuseOpcode.Opendir), Is.EqualTo(Errno.EMFILE));
            Assert.That(client.Create(FuseConstants.RootId, "new", 2, 0x81a4, out _, out _), Is.EqualTo(Errno.EMFILE));
        });
        Assert.That(client.Release(handles[0]), Is.Zero);
        Assert.That(client.Open(node, 0, out _), Is.Zero);
    }

    [Test]
    public void A_guest_that_never_forgets_holds_at_most_the_cap_of_host_descriptors()
    {
        int before = OpenDescriptors();
        using (var client = new FuseTestClient(_folder.Path, o => o.MaxInodes = 16))
        {
            for (int round = 0; round < 5; round++)
            {
                for (int i = 0; i < 40; i++)
                    client.Lookup(FuseConstants.RootId, $"f{i}", out _);
            }
            Assert.That(OpenDescriptors() - before, Is.LessThanOrEqualTo(16 + 8), "the cap, plus the device's own few");
        }
        Assert.That(OpenDescriptors(), Is.LessThanOrEqualTo(before + 2), "all closed with the device");
    }

    [Test]
    public void Destroy_forgets_every_node_and_handle_and_the_next_request_must_be_init()
    {
        using var client = new FuseTestClient(_folder.Path, o => o.MaxInodes = 4);
        ulong node = client.LookupOk(FuseConstants.RootId, "f0");
        Assert.That(client.Open(node, 0, out ulong handle), Is.Zero);
        Assert.That(client.Send(FuseOpcode.Destroy, 0, []).Error, Is.Zero);
        Assert.That(client.Lookup(FuseConstants.RootId, "f1", out _), Is.EqualTo(Errno.EIO), "before INIT again");
        client.Init();
        Assert.That(client.Read(handle, 0, 1, out _), Is.EqualTo(Errno.EBADF));
        Assert.That(client.GetAttributes(node, out _), Is.EqualTo(Errno.EBADF));
        for (int i = 1; i < 4; i++)
            client.LookupOk(FuseConstants.RootId, $"f{i}");
    }

    private static int OpenDescriptors() => Directory.GetFiles("/proc/self/fd").Length;
}
