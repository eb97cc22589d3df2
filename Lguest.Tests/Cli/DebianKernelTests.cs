using System.Globalization;
using Lguest.Boot;
using Lguest.Machine;
using Lguest.Memory;
using Lguest.Platform;
using Lguest.Tests.Support;

namespace Lguest.Tests.Cli;

/// <summary>
/// The Debian cloud kernel booted directly on this host's KVM as a PVH vmlinux. Its first lines come
/// within seconds even through kvm_pvm's instruction emulator; they are checked against what the
/// launcher built (command line, e820 map, initrd placement), then the guest is stopped.
/// </summary>
[Category("Kvm")]
public class DebianKernelTests
{
    private const string MemoryMiB = "512";
    private static readonly string[] KernelArguments = ["console=ttyS0", "earlyprintk=ttyS0"];

    [Test]
    public void The_kernel_s_first_lines_match_the_command_line_memory_map_and_initrd_the_launcher_built()
    {
        using KvmHost.Scope kvm = KvmHost.Require();
        string vmlinux = TestKernel.CloudVmlinux;
        string initrd = Path.Combine(Path.GetTempPath(), $"lguest-test-initrd-{Environment.ProcessId}.img");
        File.WriteAllBytes(initrd, Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7)).ToArray());
        try
        {
            LoadedKernel expected = LoadAsTheLauncherDoes(vmlinux, initrd);
            using var lguest = LguestProcess.Start([MemoryMiB, vmlinux, $"--initrd={initrd}", .. KernelArguments]);
            bool sawRamdisk = lguest.WaitForLine(l => l.Contains("RAMDISK:", StringComparison.Ordinal));
            lguest.Terminate();
            IReadOnlyList<string> console = lguest.Stdout;
            string all = string.Join('\n', console) + "\n" + lguest.Stderr;
            Assert.That(sawRamdisk, Is.True, all);

            Assert.That(console, Has.Some.Contains("Linux version "), all);
            Assert.That(Message(console, "Command line: "), Is.EqualTo(string.Join(' ', KernelArguments)), all);
            string[] e820 = console.Select(l => Message(l, "BIOS-e820: ")).OfType<string>().ToArray();
            Assert.That(e820, Is.EqualTo(expected.MemoryMap.Select(Format).ToArray()), all);
            ulong start = expected.InitrdAddress!.Value.Value;
            ulong end = (start + expected.InitrdSize + 4095) & ~4095UL; // the kernel prints the page-aligned range
            Assert.That(Message(console, "RAMDISK: "), Is.EqualTo(
                string.Create(CultureInfo.InvariantCulture, $"[mem 0x{start:x8}-0x{end - 1:x8}]")), all);
        }
        finally
        {
            File.Delete(initrd);
        }
    }

    /// <summary>What the launcher's loader does for this boot, in this process: the load is deterministic.</summary>
    private static LoadedKernel LoadAsTheLauncherDoes(string vmlinux, string initrd)
    {
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.WithMmioHole(ulong.Parse(MemoryMiB, CultureInfo.InvariantCulture) << 20));
        GuestAddress rsdp = AcpiTables.Write(memory, 1);
        var image = new KernelBootImage(vmlinux, initrd, string.Join(' ', KernelArguments));
        image.Load(memory, new BootTarget(BootPlatform.Pc, rsdp));
        return image.Loaded!;
    }

    /// <summary>The text after <paramref name="marker"/> in a printk line ("[    0.000000] marker...").</summary>
    private static string? Message(string line, string marker)
    {
        int at = line.IndexOf(marker, StringComparison.Ordinal);
        return at < 0 ? null : line[(at + marker.Length)..];
    }

    private static string? Message(IEnumerable<string> lines, string marker) =>
        lines.Select(l => Message(l, marker)).FirstOrDefault(m => m is not null);

    /// <summary>An e820 entry as arch/x86/kernel/e820.c prints it.</summary>
    private static string Format(E820Entry e) => string.Create(CultureInfo.InvariantCulture,
        $"[mem 0x{e.Address:x16}-0x{e.End - 1:x16}] {e.Type switch { E820Type.Ram => "usable", E820Type.Reserved => "reserved", E820Type.Acpi => "ACPI data", E820Type.Nvs => "ACPI NVS", _ => "unusable" }}");
}
