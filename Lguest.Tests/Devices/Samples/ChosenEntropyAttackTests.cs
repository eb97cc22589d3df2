using System.Text;
using CustomDevice;
using Lguest.Devices;
using Lguest.Machine;
using Lguest.Tests.Integration;
using Lguest.Tests.Support;
using Lguest.Virtio;
using Microsoft.Extensions.DependencyInjection;

namespace Lguest.Tests.Devices.Samples;

/// <summary>
/// samples/CustomDevice's third-party device in a whole machine on this host's KVM, composed as an embedder composes
/// it (<c>AddChosenEntropy</c> beside an in-tree disk, one in-process <see cref="Launcher"/>): the probe guest's attack
/// mode (Guests/Probe/attack.c, as <see cref="HostileGuestTests"/> runs it on the in-tree devices) breaks every virtio
/// rule on the sample device, one attack at a time. Each costs that device only (DEVICE_NEEDS_RESET, reported through
/// the launcher's <see cref="Launcher.DeviceNeedsReset"/>), the disk serves after each, and the launcher runs on to
/// the guest's power-off: the public device base contains a driver's errors for a device written outside the tree.
/// </summary>
[Category("Kvm")]
public class ChosenEntropyAttackTests
{
    [Test]
    public void Every_attack_on_the_sample_device_costs_only_that_device_and_the_launcher_and_the_disk_carry_on()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        string probe = GuestPrograms.Probe;
        string image = Path.Combine(Path.GetTempPath(), $"lguest-sample-attack-{Guid.NewGuid():N}.img");
        File.WriteAllBytes(image, new byte[1 << 20]);
        try
        {
            var uart = new MemoryStream();
            long served = 0;
            using ServiceProvider provider = new ServiceCollection()
                .AddLguest(o => { o.MemoryBytes = 128UL << 20; o.NoReboot = true; o.ConsoleOutput = uart; })
                .AddKvm()
                .AddKernel(probe, null, "probe.only=virtio-attack probe.attack-target=rng probe.attack-witness=blk")
                .AddChosenEntropy(span => Interlocked.Add(ref served, span.Length))
                .AddVirtioBlock(image)
                .BuildServiceProvider();
            Launcher launcher = provider.GetRequiredService<Launcher>();
            var resets = new List<DeviceNeedsResetEventArgs>();
            launcher.DeviceNeedsReset += (_, e) => { lock (resets) resets.Add(e); };
            using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(5));

            GuestExit exit = launcher.Run(cancel.Token);

            string[] lines = Encoding.ASCII.GetString(uart.ToArray()).Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
            string console = string.Join('\n', lines);
            Assert.That(exit.Kind, Is.EqualTo(GuestExitKind.PowerOff), $"{exit.Message}\n{console}");
            HostileGuestTests.AssertEveryAttackHeld("rng", "blk", 0, lines, exit.Message);
            lock (resets)
            {
                Assert.That(resets, Is.Not.Empty, console);
                Assert.That(resets.Select(e => e.Device), Is.All.EqualTo("chosen-entropy"), "only the attacked device was reset");
                Assert.That(resets.Any(e => e.IsBadDriver && e.Message.Contains("device-readable", StringComparison.Ordinal)), Is.True,
                    "the sample's own rule (§5.4.6.1) reached the launcher as a bad driver");
            }
            Assert.That(Interlocked.Read(ref served), Is.GreaterThan(0), "the sample's source filled the requests the attacks made");
        }
        finally
        {
            File.Delete(image);
        }
    }
}
