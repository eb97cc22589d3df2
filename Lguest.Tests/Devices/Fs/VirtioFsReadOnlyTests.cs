using System.Text;
using Lguest.Devices;
using Lguest.Devices.Interop;
using Lguest.Tests.Support;

namespace Lguest.Tests.Devices.Fs;

/// <summary>A read-only share answers EROFS on every path that would change it, serves every read, and the host's files stay as they were.</summary>
public class VirtioFsReadOnlyTests
{
    private TemporaryFolder _folder = null!;
    private FuseTestClient _client = null!;
    private ulong _file;
    private ulong _directory;

    [SetUp]
    public void Start()
    {
        _folder = new TemporaryFolder();
        File.WriteAllText(Path.Combine(_folder.Path, "file"), "read me");
        Directory.CreateDirectory(Path.Combine(_folder.Path, "dir"));
        _client = new FuseTestClient(_folder.Path, o => o.ReadOnly = true);
        _file = _client.LookupOk(FuseConstants.RootId, "file");
        _directory = _client.LookupOk(FuseConstants.RootId, "dir");
    }

    [TearDown]
    public void Stop()
    {
        _client.Dispose();
        Assert.That(File.ReadAllText(Path.Combine(_folder.Path, "file")), Is.EqualTo("read me"));
        Assert.That(Directory.GetFileSystemEntries(_folder.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal), Is.EqualTo(new[] { "dir", "file" }));
        _folder.Dispose();
    }

    [Test]
    public void Reads_work()
    {
        Assert.That(_client.Open(_file, FsLibc.ORdonly, out ulong handle), Is.Zero);
        Assert.That(_client.Read(handle, 0, 100, out byte[] data), Is.Zero);
        Assert.That(Encoding.ASCII.GetString(data), Is.EqualTo("read me"));
        Assert.That(_client.ReadDirectory(FuseConstants.RootId, plus: true).Select(e => e.Name), Does.Contain("file"));
        Assert.That(_client.Send(FuseOpcode.Statfs, FuseConstants.RootId, []).Error, Is.Zero);
        Assert.That(_client.Send(FuseOpcode.Access, _file, FuseTestClient.Bytes(new FuseAccessIn { Mask = 4 })).Error, Is.Zero);
    }

    [Test]
    public void Every_write_path_is_EROFS()
    {
        Assert.That(_client.Open(_file, FsLibc.ORdonly, out ulong handle), Is.Zero);
        var results = new Dictionary<string, int>
        {
            ["OPEN O_WRONLY"] = _client.Open(_file, FsLibc.OWronly, out _),
            ["OPEN O_RDWR"] = _client.Open(_file, FsLibc.ORdwr, out _),
            ["OPEN O_TRUNC"] = _client.Open(_file, FsLibc.ORdonly | FsLibc.OTrunc, out _),
            ["WRITE"] = _client.Write(handle, 0, [1, 2, 3], out _),
            ["SETATTR size"] = _client.Send(FuseOpcode.Setattr, _file, FuseTestClient.Bytes(new FuseSetattrIn { Valid = FuseConstants.FattrSize })).Error,
            ["SETATTR mode"] = _client.Send(FuseOpcode.Setattr, _file, FuseTestClient.Bytes(new FuseSetattrIn { Valid = FuseConstants.FattrMode, Mode = 0x1ff })).Error,
            ["SETATTR times"] = _client.Send(FuseOpcode.Setattr, _file, FuseTestClient.Bytes(new FuseSetattrIn { Valid = FuseConstants.FattrMtimeNow })).Error,
            ["CREATE"] = _client.Create(FuseConstants.RootId, "new", FsLibc.ORdwr, 0x81a4, out _, out _),
            ["MKNOD"] = _client.Send(FuseOpcode.Mknod, FuseConstants.RootId, [.. FuseTestClient.Bytes(new FuseMknodIn { Mode = 0x81a4 }), .. FuseTestClient.Name("node")]).Error,
            ["MKDIR"] = _client.Mkdir(FuseConstants.RootId, "newdir", 0x41ed, out _),
            ["SYMLINK"] = _client.Symlink(FuseConstants.RootId, "link", "file", out _),
            ["LINK"] = _client.Link(_file, FuseConstants.RootId, "hard", out _),
            ["UNLINK"] = _client.Send(FuseOpcode.Unlink, FuseConstants.RootId, FuseTestClient.Name("file")).Error,
            ["RMDIR"] = _client.Send(FuseOpcode.Rmdir, FuseConstants.RootId, FuseTestClient.Name("dir")).Error,
            ["RENAME"] = _client.Rename(FuseConstants.RootId, "file", _directory, "moved"),
            ["FALLOCATE"] = _client.Send(FuseOpcode.Fallocate, 0, FuseTestClient.Bytes(new FuseFallocateIn { Handle = handle, Length = 4096 })).Error,
            ["ACCESS W_OK"] = _client.Send(FuseOpcode.Access, _file, FuseTestClient.Bytes(new FuseAccessIn { Mask = 2 })).Error,
        };
        Assert.That(results.Where(r => r.Value != Errno.EROFS).Select(r => $"{r.Key}: {r.Value}"), Is.Empty);
    }
}
