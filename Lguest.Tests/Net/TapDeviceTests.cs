using System.Net;
using System.Runtime.InteropServices;
using Lguest.Devices;
using Lguest.Devices.Interop;
using Lguest.Tests.Support;

namespace Lguest.Tests.Net;

/// <summary>The tap and its host-side configuration, on real taps inside a namespace each test creates and deletes.</summary>
public partial class TapDeviceTests
{
    private NetworkNamespace _ns = null!;

    [SetUp]
    public void CreateNamespace() => _ns = NetworkNamespace.CreateOrIgnore();

    [TearDown]
    public void DeleteNamespace() => _ns.Dispose();

    [Test]
    public void Create_makes_a_tap_with_the_virtio_1_header_and_no_packet_information()
    {
        using TapDevice tap = _ns.Run(() => TapDevice.Create());
        Assert.Multiple(() =>
        {
            Assert.That(tap.Name, Does.StartWith("tap"));
            Assert.That(tap.Flags & (NetLibc.IffTap | NetLibc.IffNoPi | NetLibc.IffVnetHdr), Is.EqualTo(NetLibc.IffTap | NetLibc.IffNoPi | NetLibc.IffVnetHdr));
            Assert.That(tap.VnetHeaderSize, Is.EqualTo(VirtioNetHeader.Size));
            Assert.That(_ns.Interfaces(), Does.Contain(tap.Name));
        });
    }

    [Test]
    public void Dispose_removes_the_tap_it_created()
    {
        TapDevice tap = _ns.Run(() => TapDevice.Create("lgtest%d"));
        string name = tap.Name;
        Assert.That(_ns.Interfaces(), Does.Contain(name));
        tap.Dispose();
        Assert.That(_ns.Interfaces(), Does.Not.Contain(name));
    }

    [Test]
    public void A_given_name_is_the_tap_name()
    {
        using TapDevice tap = _ns.Run(() => TapDevice.Create("guest0"));
        Assert.That(tap.Name, Is.EqualTo("guest0"));
    }

    [Test]
    public void Every_offload_combination_the_negotiation_can_produce_is_accepted_by_the_kernel()
    {
        using TapDevice tap = _ns.Run(() => TapDevice.Create());
        ulong[] bits = [VirtioNetFeatures.GuestChecksum, VirtioNetFeatures.GuestTso4, VirtioNetFeatures.GuestTso6, VirtioNetFeatures.GuestEcn];
        for (int subset = 0; subset < 1 << bits.Length; subset++)
        {
            ulong accepted = 0;
            for (int i = 0; i < bits.Length; i++)
                accepted |= (subset >> i & 1) != 0 ? bits[i] : 0;
            TunOffloads offloads = VirtioNetNegotiation.TapOffloads(accepted);
            Assert.That(() => tap.SetOffloads(offloads), Throws.Nothing, $"features 0x{accepted:x} -> {offloads}");
        }
    }

    [Test]
    public void SetAddress_with_a_prefix_and_BringUp_configure_the_host_end()
    {
        using TapDevice tap = _ns.Run(() =>
        {
            TapDevice t = TapDevice.Create();
            t.SetAddress(IPAddress.Parse("10.77.0.1"), 24);
            t.BringUp();
            return t;
        });
        string link = _ns.Ip("-o", "link", "show", "dev", tap.Name);
        string address = _ns.Ip("-o", "-4", "addr", "show", "dev", tap.Name);
        Assert.Multiple(() =>
        {
            Assert.That(link, Does.Match(@"<[^>]*\bUP\b"));
            Assert.That(address, Does.Contain("inet 10.77.0.1/24"));
        });
    }

    [Test]
    public void SetAddress_without_a_prefix_leaves_the_kernel_classful_netmask_as_the_seed_did()
    {
        using TapDevice tap = _ns.Run(() =>
        {
            TapDevice t = TapDevice.Create();
            t.SetAddress(IPAddress.Parse("192.168.40.1"));
            return t;
        });
        Assert.That(_ns.Ip("-o", "-4", "addr", "show", "dev", tap.Name), Does.Contain("inet 192.168.40.1/24"));
    }

    [Test]
    public void The_mtu_of_a_fresh_tap_is_1500()
    {
        using TapDevice tap = _ns.Run(() => TapDevice.Create());
        Assert.That(_ns.Run(() => tap.Mtu), Is.EqualTo(1500));
    }

    [Test]
    public void AttachToBridge_adds_the_tap_to_an_existing_bridge()
    {
        _ns.Ip("link", "add", "br0", "type", "bridge");
        using TapDevice tap = _ns.Run(() =>
        {
            TapDevice t = TapDevice.Create();
            t.AttachToBridge("br0");
            return t;
        });
        Assert.That(_ns.Ip("-o", "link", "show", "dev", tap.Name), Does.Contain("master br0"));
    }

    [Test]
    public void AttachToBridge_of_a_missing_bridge_says_it_does_not_exist()
    {
        using TapDevice tap = _ns.Run(() => TapDevice.Create());
        Assert.That(() => _ns.Run(() => tap.AttachToBridge("nobr0")),
            Throws.TypeOf<TapException>().With.Message.EqualTo("bridge 'nobr0' does not exist"));
    }

    [Test]
    public void AttachToBridge_of_an_interface_that_is_no_bridge_says_so()
    {
        using TapDevice tap = _ns.Run(() => TapDevice.Create());
        Assert.That(() => _ns.Run(() => tap.AttachToBridge("lo")),
            Throws.TypeOf<TapException>().With.Message.EqualTo("'lo' is not a bridge"));
    }

    [Test]
    public void Create_without_privilege_says_permission_denied_and_leaves_no_tap()
    {
        IReadOnlyList<string> before = _ns.Interfaces();
        // Credentials are per thread at the system-call level: this thread alone becomes nobody.
        TapException? failure = _ns.Run(() =>
        {
            Assert.That(SetResUid(117 /* SYS_setresuid */, 65534, 65534, 65534), Is.Zero, "setresuid");
            try
            {
                using TapDevice _ = TapDevice.Create();
                return null;
            }
            catch (TapException e)
            {
                return e;
            }
        });
        Assert.Multiple(() =>
        {
            Assert.That(failure, Is.Not.Null);
            Assert.That(failure!.IsPermissionDenied, Is.True);
            Assert.That(failure.Message, Does.Contain("permission denied"));
            Assert.That(failure.Message, Does.Not.Contain('\n'));
            Assert.That(_ns.Interfaces(), Is.EquivalentTo(before));
        });
    }

    [Test]
    public void A_tap_name_that_cannot_fit_is_refused_before_any_system_call()
    {
        Assert.That(() => _ns.Run(() => TapDevice.Create("a-name-much-too-long")),
            Throws.TypeOf<TapException>().With.Message.Contains("longer than 15"));
    }

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long SetResUid(long number, long ruid, long euid, long suid);
}
