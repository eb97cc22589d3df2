using Lguest.Devices;
using Lguest.Memory;
using Lguest.Tests.Support;
using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;

namespace Lguest.Tests.Devices.Fs;

/// <summary>AddVirtioFs: options checked when added, one device per call, the folder opened at the first boot and kept across reboots.</summary>
public class VirtioFsRegistrationTests
{
    private TemporaryFolder _folder = null!;

    [SetUp]
    public void Start() => _folder = new TemporaryFolder();

    [TearDown]
    public void Stop() => _folder.Dispose();

    [Test]
    public void Each_call_adds_one_share_named_in_order()
    {
        var services = new ServiceCollection();
        services.AddVirtioFs(_folder.Path, "one").AddVirtioFs(_folder.Path, "two", readOnly: true);
        using ServiceProvider provider = services.BuildServiceProvider();
        using GuestMemory memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        IVirtioDevice[] devices = provider.GetServices<IVirtioDeviceFactory>().Select(f => f.Create(memory)).ToArray();
        Assert.That(devices.Select(d => (d.DeviceType, d.Name, ((VirtioFsDevice)d).Tag)),
            Is.EqualTo(new[] { (VirtioDeviceType.FileSystem, "fs0", "one"), (VirtioDeviceType.FileSystem, "fs1", "two") }));
    }

    [TestCase("", "tag", "HostDirectory")]
    [TestCase("/tmp", "", "Tag")]
    [TestCase("/tmp", "a-tag-of-thirty-seven-bytes-is-too-long", "Tag")]
    [TestCase("/tmp", "nul\0inside", "Tag")]
    public void Bad_options_are_refused_when_the_share_is_added(string folder, string tag, string option)
    {
        var services = new ServiceCollection();
        Assert.That(() => services.AddVirtioFs(folder, tag), Throws.ArgumentException.With.Property(nameof(ArgumentException.ParamName)).EqualTo(option));
        Assert.That(() => services.AddVirtioFs(o => { o.HostDirectory = "/tmp"; o.Tag = "t"; o.QueueSize = 1000; }),
            Throws.ArgumentException.With.Property(nameof(ArgumentException.ParamName)).EqualTo("QueueSize"));
        Assert.That(() => services.AddVirtioFs(o => { o.HostDirectory = "/tmp"; o.Tag = "t"; o.MaxInodes = 1; }),
            Throws.ArgumentException.With.Property(nameof(ArgumentException.ParamName)).EqualTo("MaxInodes"));
        Assert.That(services, Is.Empty);
    }

    [Test]
    public void Two_shares_with_one_tag_are_refused() =>
        Assert.That(() => new ServiceCollection().AddVirtioFs("/tmp", "same").AddVirtioFs(_folder.Path, "same"),
            Throws.ArgumentException.With.Message.Contains("'same' is already used"));

    [Test]
    public void A_missing_folder_or_a_file_is_a_shared_directory_error_at_the_first_boot()
    {
        string file = _folder.Write("file", [1]);
        var services = new ServiceCollection().AddVirtioFs(Path.Combine(_folder.Path, "missing"), "a").AddVirtioFs(file, "b");
        using ServiceProvider provider = services.BuildServiceProvider();
        using GuestMemory memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        IVirtioDeviceFactory[] factories = provider.GetServices<IVirtioDeviceFactory>().ToArray();
        Assert.That(() => factories[0].Create(memory), Throws.TypeOf<SharedDirectoryException>().With.Message.Contains("missing").And.Message.Contains("No such file"));
        Assert.That(() => factories[1].Create(memory), Throws.TypeOf<SharedDirectoryException>().With.Message.Contains("not a directory"));
    }

    [Test]
    public void The_folder_opened_at_the_first_boot_is_kept_across_reboots_even_if_renamed()
    {
        string share = Path.Combine(_folder.Path, "share");
        Directory.CreateDirectory(share);
        File.WriteAllText(Path.Combine(share, "kept"), "x");
        var services = new ServiceCollection().AddVirtioFs(share, "s");
        using ServiceProvider provider = services.BuildServiceProvider();
        using GuestMemory memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(1 << 20));
        IVirtioDeviceFactory factory = provider.GetServices<IVirtioDeviceFactory>().Single();
        factory.Create(memory);
        Directory.Move(share, share + ".renamed");
        Assert.That(factory.Create(memory), Is.TypeOf<VirtioFsDevice>(), "the second boot does not look the path up again");
    }
}
