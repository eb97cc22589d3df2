using Lguest.Tests.Support;

namespace Lguest.Tests.Integration;

/// <summary>
/// The bed proves itself with QEMU as the L2 VMM: if these fail, a failing lguest Linux test says nothing
/// about lguest.
/// </summary>
[Category("Linux")]
public class NestedBedTests
{
    [Test]
    public void Qemu_boots_the_cloud_kernel_with_the_guest_image_runs_hello_and_powers_off()
    {
        var bed = NestedBed.OpenOrIgnore();

        NestedBedRun run = bed.RunQemuScenario("hello");

        Assert.Multiple(() =>
        {
            Assert.That(run.Transcript, Does.Contain("BED-KVM yes"), run.ToString());
            Assert.That(run.Console, Does.Contain("GUEST-INIT-READY"), run.ToString());
            Assert.That(run.Console, Does.Contain("GUEST-HELLO"), run.ToString());
            Assert.That(run.Console, Does.Contain(bed.Kernels["LGUEST_CLOUD_RELEASE"]), run.ToString());
            Assert.That(run.Console, Does.Contain("GUEST-SCENARIO-EXIT 0"), run.ToString());
            Assert.That(run.ExitStatus, Is.Zero, run.ToString());
        });
    }
}
