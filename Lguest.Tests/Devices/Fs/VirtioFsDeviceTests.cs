using System.Buffers.Binary;
using System.Text;
using Lguest.Devices;
using Lguest.Tests.Support;
using Lguest.Virtio;

namespace Lguest.Tests.Devices.Fs;

/// <summary>The shared-folder device end to end on real rings: configuration, INIT, and the guest's everyday requests against a temporary folder.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public class VirtioFsDeviceTests
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

    [Test]
    public void The_device_is_a_file_system_with_a_hiprio_and_one_request_queue_and_its_tag_in_the_configuration()
    {
        VirtioFsDevice device = _client.Device;
        var config = new byte[VirtioFsDevice.ConfigurationSize];
        for (int offset = 0; offset < config.Length; offset += 4)
            device.ReadConfig(offset, config.AsSpan(offset, 4));
        Assert.Multiple(() =>
        {
            Assert.That(device.DeviceType, Is.EqualTo(VirtioDeviceType.FileSystem));
            Assert.That((int)device.DeviceType, Is.EqualTo(26));
            Assert.That(device.QueueMaxSizes, Has.Count.EqualTo(2));
            Assert.That(Encoding.UTF8.GetString(config, 0, 36).TrimEnd('\0'), Is.EqualTo("share"));
            Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(36)), Is.EqualTo(1u), "num_request_queues");
            Assert.That(device.DeviceFeatures, Is.EqualTo(FuseTestClient.Features));
        });
    }

    [Test]
    public void Init_negotiates_the_guests_minor_up_to_the_headers_and_announces_1_MiB_transfers()
    {
        FuseInitOut reply = _client.Init(minor: 36);
        Assert.Multiple(() =>
        {
            Assert.That((reply.Major, reply.Minor), Is.EqualTo((7u, 36u)));
            Assert.That(reply.MaxWrite, Is.EqualTo(1u << 20));
            Assert.That(reply.MaxPages, Is.EqualTo((ushort)256));
            Assert.That(reply.Flags & FuseConstants.MaxPages, Is.Not.Zero);
            Assert.That(reply.Flags & FuseConstants.DoReaddirplus, Is.Not.Zero);
        });
        Assert.That(_client.Init(minor: 40).Minor, Is.EqualTo(FuseConstants.KernelMinorVersion));
    }

    [Test]
    public void A_file_made_written_and_read_through_the_share_is_the_hosts_file()
    {
        Assert.That(_client.Create(FuseConstants.RootId, "hello.txt", 2 /* O_RDWR */, 0x81a4 /* 0644 */, out FuseEntryOut entry, out ulong handle), Is.Zero);
        byte[] data = Encoding.ASCII.GetBytes("hello from the guest\n");
        Assert.That(_client.Write(handle, 0, data, out uint written), Is.Zero);
        Assert.That(written, Is.EqualTo((uint)data.Length));
        Assert.That(_client.Read(handle, 6, 100, out byte[] back), Is.Zero);
        Assert.That(_client.Release(handle), Is.Zero);

        Assert.That(File.ReadAllBytes(Path.Combine(_folder.Path, "hello.txt")), Is.EqualTo(data));
        Assert.That(back, Is.EqualTo(data[6..]));
        Assert.That(entry.Attr.Mode, Is.EqualTo(0x81a4u));
        Assert.That(Convert.ToString((int)File.GetUnixFileMode(Path.Combine(_folder.Path, "hello.txt")), 8), Is.EqualTo("644"));
    }

    [Test]
    public void A_host_file_is_looked_up_read_and_listed()
    {
        File.WriteAllText(Path.Combine(_folder.Path, "a.txt"), "0123456789");
        Directory.CreateDirectory(Path.Combine(_folder.Path, "sub"));
        ulong node = _client.LookupOk(FuseConstants.RootId, "a.txt");
        Assert.That(_client.GetAttributes(node, out FuseAttr attr), Is.Zero);
        Assert.That(attr.Size, Is.EqualTo(10ul));
        Assert.That(_client.Open(node, 0, out ulong handle), Is.Zero);
        Assert.That(_client.Read(handle, 3, 4, out byte[] data), Is.Zero);
        Assert.That(Encoding.ASCII.GetString(data), Is.EqualTo("3456"));
        Assert.That(_client.Read(handle, 100, 4, out data), Is.Zero);
        Assert.That(data, Is.Empty, "past the end");
        Assert.That(_client.Release(handle), Is.Zero);

        var names = _client.ReadDirectory(FuseConstants.RootId).Select(e => e.Name).Order(StringComparer.Ordinal);
        Assert.That(names, Is.EqualTo(new[] { ".", "..", "a.txt", "sub" }));
    }
}
