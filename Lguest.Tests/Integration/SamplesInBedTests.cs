using System.Text.RegularExpressions;
using Lguest.Tests.Support;

namespace Lguest.Tests.Integration;

/// <summary>
/// The samples as an embedder builds them (samples/, against the packed packages only: the Test target's Samples step
/// packs and builds them) run in the nested bed, each booting the stock cloud kernel and the guest image as L2 on L1's
/// /dev/kvm, in one bed run: EmbedVm (a console, a disk, an rng; stops at a console line) and CustomDevice's host (the
/// third-party entropy device, read by the guest's own virtio_rng driver).
/// </summary>
[Category("Linux")]
public partial class SamplesInBedTests
{
    private NestedBedRun _run = null!;

    [GeneratedRegex(@"^ttyS0\| GUEST-VIRTIO virtio\d+ device=0x0004 vendor=0x1af4 driver=virtio_rng$", RegexOptions.Multiline)]
    private static partial Regex RngBound();

    [GeneratedRegex(@"^ttyS0\| GUEST-VIRTIO virtio\d+ device=0x0003 vendor=0x1af4 driver=virtio_console$", RegexOptions.Multiline)]
    private static partial Regex ConsoleBound();

    [OneTimeSetUp]
    public void RunBothSamples()
    {
        NestedBed bed = NestedBed.OpenOrIgnore();
        string embedVm = Sample(bed.RepositoryRoot, "EmbedVm", "EmbedVm");
        string customDevice = Sample(bed.RepositoryRoot, Path.Combine("CustomDevice", "Host"), "CustomDeviceHost");
        // The disk lives in L1's memory (/tmp there is a tmpfs): 16 MiB, 32,768 sectors. The whole run took 53 s at load
        // 22 (L1's boot, two dotnet starts, two L2 boots of the PVH vmlinux); a sample that hangs costs at most its 5 min.
        string command = $"""
            truncate -s 16M /tmp/embedvm-disk.img
            dotnet {NestedBed.Quote(embedVm)} "$LGUEST_GUEST_VMLINUX" "$LGUEST_GUEST_INITRD" /tmp/embedvm-disk.img --until '^GUEST-DEVICES-END$' --timeout 300 quiet lguest.scenario=devices
            echo "BED-EMBEDVM-EXIT $?"
            dotnet {NestedBed.Quote(customDevice)} "$LGUEST_GUEST_VMLINUX" "$LGUEST_GUEST_INITRD" --timeout 300
            echo "BED-CUSTOMDEVICE-EXIT $?"
            """;
        _run = bed.Run(command, TimeSpan.FromMinutes(12));
    }

    [Test]
    public void EmbedVm_boots_the_guest_with_its_devices_and_stops_it_at_the_matching_console_line()
    {
        string console = _run.Console;
        Assert.That(console, Does.Contain("EMBEDVM-MATCHED GUEST-DEVICES-END"), _run.Transcript);
        Assert.That(console, Does.Contain("BED-EMBEDVM-EXIT 0"), _run.Transcript);
        Assert.That(console, Does.Contain("ttyS0| GUEST-BLOCK vda sectors=32768 ro=0"), _run.Transcript);
        Assert.That(RngBound().IsMatch(console), Is.True, _run.Transcript);
        Assert.That(ConsoleBound().IsMatch(console), Is.True, _run.Transcript);
    }

    [Test]
    public void CustomDevice_s_entropy_device_gives_the_guest_s_virtio_rng_the_bytes_the_sample_chose()
    {
        Assert.That(_run.Console, Does.Match(@"CUSTOM-DEVICE-OK virtio_rng\.\d+ read 64 bytes of the chosen phrase"), _run.Transcript);
        Assert.That(_run.Console, Does.Contain("BED-CUSTOMDEVICE-EXIT 0"), _run.Transcript);
    }

    /// <summary>The sample's assembly from the Samples step, in this test build's configuration.</summary>
    private static string Sample(string root, string folder, string name)
    {
        string configuration = AppContext.BaseDirectory.Contains("/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";
        string path = Path.Combine(root, "samples", folder, "bin", configuration, "net10.0", name + ".dll");
        if (!File.Exists(path))
            Assert.Fail($"{path} is not built: run 'dotnet cake --target=Samples --configuration={configuration}' (Test runs it first)");
        return path;
    }
}
