using Lguest.Boot;
using Lguest.Memory;
using Lguest.Tests.Support;

namespace Lguest.Fuzz.Targets;

/// <summary>
/// The kernel loader on mutated bzImage and ELF files: the input is a few load options then the kernel file
/// itself, loaded into guest RAM for KVM or lguest. A refusal is a <see cref="KernelImageException"/>; a load
/// that succeeds must have put everything it describes inside RAM, entry point included.
/// </summary>
/// <remarks>
/// Layout: byte 0 = bit 0 lguest platform, bit 1 PreferPvh off, bit 2 an initrd, bits 3-4 the command line
/// (empty, short, 2047 bytes, 5000 bytes), bit 5 16 MiB of RAM instead of 64 MiB, bit 6 an ACPI RSDP address;
/// the rest is the kernel file (written to the temporary folder: tmpfs under fuzz/run.sh).
/// </remarks>
public sealed class KernelLoaderTarget : FuzzTarget, IDisposable
{
    private readonly GuestMemory _small = GuestMemory.Allocate(GuestMemoryLayout.Flat(16 << 20));
    private readonly GuestMemory _large = GuestMemory.Allocate(GuestMemoryLayout.Flat(64 << 20));
    private readonly string _kernelPath;
    private readonly string _initrdPath;
    private static readonly string[] CommandLines = ["", "console=ttyS0 root=/dev/vda", new string('a', 2047), new string('b', 5000)];

    /// <summary>Creates the target's kernel and initrd files in the temporary folder.</summary>
    public KernelLoaderTarget()
    {
        string stem = Path.Combine(Path.GetTempPath(), $"lguest-fuzz-kernel-{Environment.ProcessId}-{Guid.NewGuid():N}");
        _kernelPath = stem + ".img";
        _initrdPath = stem + ".initrd";
        File.WriteAllBytes(_initrdPath, new byte[4096 + 17]);
    }

    /// <inheritdoc />
    public override string Name => "kernel-loader";

    /// <inheritdoc />
    public override int MaxInputLength => 1 + 65536;

    /// <inheritdoc />
    public void Dispose()
    {
        File.Delete(_kernelPath);
        File.Delete(_initrdPath);
        _small.Dispose();
        _large.Dispose();
    }

    /// <inheritdoc />
    protected override void Run(ReadOnlySpan<byte> input)
    {
        var reader = new FuzzInput(input);
        byte mode = reader.Byte();
        using (var file = File.Create(_kernelPath))
            file.Write(reader.Rest);
        GuestMemory memory = (mode & 32) != 0 ? _small : _large;
        var options = new KernelLoadOptions
        {
            KernelPath = _kernelPath,
            InitrdPath = (mode & 4) != 0 ? _initrdPath : null,
            CommandLine = CommandLines[(mode >> 3) & 3],
            Platform = (mode & 1) != 0 ? BootPlatform.Lguest : BootPlatform.Pc,
            PreferPvh = (mode & 2) == 0,
            AcpiRsdpAddress = (mode & 64) != 0 ? new GuestAddress(0xe0000) : null,
        };
        LoadedKernel loaded = KernelLoader.Load(memory, options);

        GuestMemoryLayout layout = memory.Layout;
        foreach (BootMemoryRange range in loaded.Ranges)
            InvariantViolationException.ThrowUnless(layout.Contains(range.Start, range.Length), $"{range} is not inside guest RAM");
        InvariantViolationException.ThrowUnless(layout.Contains(loaded.Boot.Entry, 1), $"entry point {loaded.Boot.Entry} is outside guest RAM");
        InvariantViolationException.ThrowUnless(layout.Contains(loaded.CommandLineAddress, (ulong)loaded.CommandLineLength + 1), "the command line is outside guest RAM");
        if (loaded.InitrdAddress is { } initrd)
            InvariantViolationException.ThrowUnless(layout.Contains(initrd, loaded.InitrdSize), $"the initrd at {initrd} is outside guest RAM");
        if (options.Platform == BootPlatform.Lguest)
            InvariantViolationException.ThrowUnless(loaded.Boot.Mode == Hypervisor.BootCpuMode.Linux32, $"an lguest guest entered in {loaded.Boot.Mode}");
    }

    /// <inheritdoc />
    public override IEnumerable<KeyValuePair<string, byte[]>> Seeds()
    {
        static byte[] With(int mode, byte[] image) => [(byte)mode, .. image];

        yield return new("bzimage-64bit", With(0, new BzImageBuilder { KernelSize = 1024 }.Build()));
        yield return new("bzimage-lguest-initrd", With(1 | 4 | 8, new BzImageBuilder { KernelSize = 512 }.Build()));
        var old = new BzImageBuilder { KernelSize = 512 };
        old.Header.Version = 0x0206;
        old.Header.XLoadFlags = 0;
        old.Header.RelocatableKernel = 0;
        yield return new("bzimage-protocol-2.06", With(32 | 16, old.Build()));
        yield return new("elf64-pvh", With(4 | 64, new ElfImageBuilder().Load(0x100_0000, new byte[256], memSize: 0x2000).PvhNote(0x100_0040).Build()));
        yield return new("elf64-two-segments", With(2, new ElfImageBuilder().Load(0x100_0000, new byte[128]).Load(0x120_0000, new byte[64], memSize: 0x1000).Build()));
        yield return new("elf32-lguest", With(1, new ElfImageBuilder { Is64 = false, Machine = ElfImageBuilder.Em386, Entry = 0x100000 }.Load(0x100000, new byte[200]).Build()));
    }
}
