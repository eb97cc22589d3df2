using Lguest.Tests.Support;

namespace Lguest.Tests.Cli;

/// <summary>
/// --strict on KVM with the probe guest's hostile virtio driver (a descriptor table outside RAM, then a buffer
/// there): the lguest command ends as the seed did, or by default lets the guest recover its device and finish.
/// </summary>
[Category("Kvm")]
public class StrictCommandTests
{
    [Test]
    public void Under_strict_a_hostile_driver_ends_the_launcher_with_exit_1_and_the_seed_s_message()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        string probe = GuestPrograms.Probe;
        (int code, IReadOnlyList<string> stdout, string stderr) = LguestProcess.Run("--strict", "--rng", "--no-reboot", "128", probe, "probe.only=pci,virtio-hostile");
        Assert.That(code, Is.EqualTo(1), $"{stderr}\n{string.Join('\n', stdout)}");
        // The probe's table outside RAM, its two rings in its own pages: refused when the queue is enabled.
        Assert.That(stderr.Trim(), Does.Match(@"^lguest: rng: bad driver: invalid address: queue 0 \(size \d+\): descriptors 0xf0000000, driver area 0x[0-9a-f]+, device area 0x[0-9a-f]+, not all in guest memory$"));
        Assert.That(stdout, Has.None.StartsWith("PROBE virtio-hostile"), "the guest did not get to report");
    }

    [Test]
    public void By_default_the_same_driver_costs_only_its_device_and_the_guest_finishes()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        string probe = GuestPrograms.Probe;
        (int code, IReadOnlyList<string> stdout, string stderr) = LguestProcess.Run("--rng", "--no-reboot", "128", probe, "probe.only=pci,virtio-hostile");
        Assert.That(code, Is.Zero, $"{stderr}\n{string.Join('\n', stdout)}");
        Assert.That(stdout, Has.Some.StartsWith("PROBE virtio-hostile ok"));
    }
}
