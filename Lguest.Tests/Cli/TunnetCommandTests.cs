using Lguest.Cli;
using Lguest.Devices;
using Lguest.Tests.Support;

namespace Lguest.Tests.Cli;

/// <summary>The seed's --tunnet on the lguest command: parsing, and the tap's life inside a test namespace.</summary>
public class TunnetCommandTests
{
    [Test]
    public void Several_tunnet_options_give_several_cards_in_order()
    {
        Assert.That(RunArguments.TryParse(["--tunnet=10.0.0.1", "--tunnet", "bridge:br0:52:54:00:00:00:01", "64", "k"], out RunArguments a, out string? error), Is.True, error);
        Assert.That(a.Tunnets.Select(t => t.ToString()), Is.EqualTo(new[] { "10.0.0.1", "bridge:br0:52:54:00:00:00:01" }));
    }

    [Test]
    public void Net_offloads_are_on_unless_switched_off()
    {
        Assert.That(RunArguments.TryParse(["64", "k"], out RunArguments on, out _), Is.True);
        Assert.That(RunArguments.TryParse(["--net-offloads=off", "64", "k"], out RunArguments off, out _), Is.True);
        Assert.That((on.NetOffloads, off.NetOffloads), Is.EqualTo((true, false)));
        Assert.That(RunArguments.TryParse(["--net-offloads=maybe", "64", "k"], out _, out string? error), Is.False);
        Assert.That(error, Is.EqualTo("--net-offloads 'maybe' is not on or off"));
    }

    [TestCase("--tunnet=10.0.0.300", "--tunnet '10.0.0.300': '10.0.0.300' is not an IPv4 address (a.b.c.d)")]
    [TestCase("--tunnet=10.0.0.1:52:54:00", "--tunnet '10.0.0.1:52:54:00': '52:54:00' is not a MAC address (xx:xx:xx:xx:xx:xx)")]
    [TestCase("--tunnet=bridge:", "--tunnet 'bridge:': bridge: needs a bridge name")]
    [TestCase("--tunnet", "option '--tunnet' requires an argument")]
    public void A_bad_tunnet_value_is_refused_with_one_line(string option, string expected)
    {
        string[] args = option == "--tunnet" ? ["64", "k", option] : [option, "64", "k"];
        Assert.That(RunArguments.TryParse(args, out _, out string? error), Is.False);
        Assert.That(error, Is.EqualTo(expected));
    }

    [Test]
    public void The_command_exits_1_on_a_bad_mac_before_touching_the_host()
    {
        (int code, _, string stderr) = LguestProcess.Run("--tunnet=10.0.0.1:zz:00:00:00:00:00", "64", "nokernel");
        Assert.That(code, Is.EqualTo(1), stderr);
        Assert.That(stderr, Does.StartWith("lguest: --tunnet '10.0.0.1:zz:00:00:00:00:00': 'zz:00:00:00:00:00' is not a MAC address"));
    }

    [Test]
    [Category("Kvm")]
    public void A_missing_bridge_exits_3_with_one_line_and_leaves_no_tap()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        using NetworkNamespace ns = NetworkNamespace.CreateOrIgnore();
        string probe = GuestPrograms.Probe;
        (int code, _, string stderr) = LguestProcess.RunWrapped(["ip", "netns", "exec", ns.Name],
            "--tunnet=10.8.0.1", "--tunnet=bridge:nobr0", "64", probe);
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(3), stderr);
            Assert.That(stderr.Trim(), Is.EqualTo("lguest: bridge 'nobr0' does not exist"));
            Assert.That(ns.Interfaces(), Is.EqualTo(new[] { "lo" }), "interfaces left behind");
        });
    }

    [Test]
    [Category("Kvm")]
    public void Without_CAP_NET_ADMIN_the_command_exits_4_with_one_line()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        using NetworkNamespace ns = NetworkNamespace.CreateOrIgnore();
        string probe = GuestPrograms.Probe;
        (int code, _, string stderr) = LguestProcess.RunWrapped(
            ["ip", "netns", "exec", ns.Name, "setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin"],
            "--tunnet=10.8.0.1", "64", probe);
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.EqualTo(4), stderr);
            Assert.That(stderr.Trim(), Is.EqualTo("lguest: creating tap 'tap%d': permission denied (networking needs root or CAP_NET_ADMIN)"));
            Assert.That(ns.Interfaces(), Is.EqualTo(new[] { "lo" }));
        });
    }

    [Test]
    [Category("Kvm")]
    public void A_guest_run_with_tunnet_has_its_tap_configured_while_it_runs_and_removed_after()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        using NetworkNamespace ns = NetworkNamespace.CreateOrIgnore();
        string probe = GuestPrograms.Probe;
        (int code, IReadOnlyList<string> stdout, string stderr) = LguestProcess.RunWrapped(["ip", "netns", "exec", ns.Name],
            "--verbose", "--tunnet=10.8.0.1/24:52:54:00:08:00:02", "--tunnet=10.9.0.1", "64", probe);
        Assert.Multiple(() =>
        {
            Assert.That(code, Is.Zero, $"{stderr}\n{string.Join('\n', stdout)}");
            Assert.That(stderr, Does.Contain("tap tap0 at 10.8.0.1/24, MTU 1500; the guest's MAC address is 52:54:00:08:00:02"));
            Assert.That(stderr, Does.Contain("tap tap1 at 10.9.0.1, MTU 1500"));
            Assert.That(ns.Interfaces(), Is.EqualTo(new[] { "lo" }), "taps left behind");
        });
    }
}
