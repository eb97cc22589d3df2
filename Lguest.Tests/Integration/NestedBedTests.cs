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

    [Test]
    public void Qemu_guest_binds_the_image_virtio_drivers_to_block_net_console_and_rng_devices()
    {
        var bed = NestedBed.OpenOrIgnore();

        // The disk lives in L1's /tmp (a tmpfs); the host root is read-only there.
        NestedBedRun run = bed.Run(
            "truncate -s 8M /tmp/disk.img && Lguest.Tests/Guests/l2-qemu.sh '' '' " +
            "'console=ttyS0 quiet lguest.scenario=devices' -drive file=/tmp/disk.img,if=virtio,format=raw " +
            "-device virtio-rng-pci -nic user,model=virtio-net-pci -device virtio-serial-pci -device virtconsole");

        Assert.Multiple(() =>
        {
            Assert.That(run.Console, Does.Match(@"GUEST-VIRTIO \S+ device=0x0001 vendor=0x1af4 driver=virtio_net"), run.ToString());
            Assert.That(run.Console, Does.Match(@"GUEST-VIRTIO \S+ device=0x0002 vendor=0x1af4 driver=virtio_blk"), run.ToString());
            Assert.That(run.Console, Does.Match(@"GUEST-VIRTIO \S+ device=0x0003 vendor=0x1af4 driver=virtio_console"), run.ToString());
            Assert.That(run.Console, Does.Match(@"GUEST-VIRTIO \S+ device=0x0004 vendor=0x1af4 driver=virtio_rng"), run.ToString());
            Assert.That(run.Console, Does.Contain("GUEST-BLOCK vda sectors=16384 ro=0"), run.ToString());
            Assert.That(run.Console, Does.Contain("GUEST-SCENARIO-EXIT 0"), run.ToString());
            Assert.That(run.ExitStatus, Is.Zero, run.ToString());
        });
    }
}
