using System.Text;
using Lguest.Hypervisor;
using Lguest.Memory;

namespace Lguest.Boot;

/// <summary>
/// Puts a Linux kernel (bzImage or ELF vmlinux), its initrd and command line into guest memory and
/// describes the machine to it (the zero page, or hvm_start_info for PVH), for the KVM and the
/// lguest backends alike.
/// </summary>
/// <remarks>
/// Everything is parsed and checked first (file sizes, header fields, segment placement, initrd room,
/// command line length); only then is guest memory written, so a refused kernel leaves memory as it
/// was. Kernel and initrd bytes go straight from the file into guest memory.
/// </remarks>
public static partial class KernelLoader
{
    /// <summary>The lowest address a kernel segment or initrd may use: boot structures live below it.</summary>
    private const ulong LowestKernelAddress = PcLowMemory.HighMemory;

    /// <summary>Loads the kernel <paramref name="options"/> names into <paramref name="memory"/>.</summary>
    /// <param name="memory">Guest RAM, normally fresh (zero-filled).</param>
    /// <param name="options">The kernel, initrd, command line and platform.</param>
    /// <returns>How to start the kernel and what was placed where.</returns>
    /// <exception cref="KernelImageException">
    /// The kernel or initrd is missing, unreadable, malformed, for another machine or does not fit, or
    /// the command line is too long; the message names the file and the problem.
    /// </exception>
    public static LoadedKernel Load(GuestMemory memory, KernelLoadOptions options)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.KernelPath, nameof(options));
        if (!Enum.IsDefined(options.Platform))
            throw new ArgumentOutOfRangeException(nameof(options), options.Platform, "unknown boot platform");
        GuestMemoryLayout layout = memory.Layout;
        BootPlatform platform = options.Platform;

        using KernelFile kernel = options.KernelHandle is { } kernelHandle ? KernelFile.Open(options.KernelPath, kernelHandle) : KernelFile.Open(options.KernelPath);
        KernelImage image = Parse(kernel, platform, layout);

        bool pvh = platform == BootPlatform.Pc && options.PreferPvh && image.PvhEntry is not null;
        IReadOnlyList<E820Entry> map = E820Map.Build(layout, platform);

        // The command line: checked against the kernel's limit and the room the platform keeps for it.
        byte[] commandLine = EncodeCommandLine(kernel, options.CommandLine, image.CmdlineSize, platform);
        GuestAddress commandLineAddress = new(platform == BootPlatform.Lguest ? LguestLowMemory.CommandLine : PcLowMemory.CommandLine);

        // The boot structures, each of which must be in RAM.
        var ranges = new List<BootMemoryRange>();
        GuestAddress bootInfo;
        if (pvh)
        {
            bootInfo = new GuestAddress(PcLowMemory.StartInfo);
            ranges.Add(new BootMemoryRange("start info", bootInfo, StartInfoLength(map.Count, options.InitrdPath is not null)));
        }
        else
        {
            bootInfo = new GuestAddress(platform == BootPlatform.Lguest ? LguestLowMemory.ZeroPage : PcLowMemory.ZeroPage);
            ranges.Add(new BootMemoryRange("zero page", bootInfo, BootParams.Size));
        }
        ranges.Add(new BootMemoryRange("command line", commandLineAddress, (ulong)commandLine.Length + 1));
        foreach (BootMemoryRange r in ranges)
        {
            if (!layout.Contains(r.Start, r.Length))
                throw kernel.Refuse($"does not fit: guest RAM ({DescribeRam(layout)}) has no room for the {r}");
        }
        ranges.AddRange(image.Segments.Select(s => s.Range));
        ranges.AddRange(image.Reserved);

        // The initrd goes as high as allowed, clear of everything above.
        using KernelFile? initrd = options.InitrdPath is null ? null
            : options.InitrdHandle is { } initrdHandle ? KernelFile.Open(options.InitrdPath, initrdHandle) : KernelFile.Open(options.InitrdPath);
        GuestAddress? initrdAddress = null;
        ulong initrdSize = 0;
        if (initrd is not null)
        {
            ulong fileSize = (ulong)initrd.Length;
            // The lguest launcher mapped whole pages and told the kernel the rounded size.
            initrdSize = platform == BootPlatform.Lguest ? RoundUpToPage(fileSize) : fileSize;
            ulong limit = Math.Min(image.InitrdAddrMax + 1, GuestMemoryLayout.FourGiB);
            if (!InitrdPlacer.TryPlace(layout, RoundUpToPage(fileSize), LowestKernelAddress, limit, ranges, out GuestAddress at, out ulong room))
                throw initrd.Refuse($"does not fit: the initrd is {fileSize} bytes but the largest free room in guest RAM between 1 MiB and 0x{limit:x} (initrd_addr_max and 4 GiB), clear of the kernel, is {room} bytes");
            initrdAddress = at;
            ranges.Add(new BootMemoryRange("initrd", at, RoundUpToPage(fileSize)));
        }

        // Everything is checked: write.
        foreach (KernelSegment s in image.Segments)
        {
            kernel.LoadInto(memory, s.Address, s.FileOffset, s.FileSize);
            if (s.MemorySize > s.FileSize)
                memory.Clear(new GuestAddress(s.Address.Value + s.FileSize), s.MemorySize - s.FileSize);
        }
        if (initrd is not null && initrdAddress is { } initrdAt)
        {
            ulong fileSize = (ulong)initrd.Length;
            initrd.LoadInto(memory, initrdAt, 0, fileSize);
            memory.Clear(new GuestAddress(initrdAt.Value + fileSize), RoundUpToPage(fileSize) - fileSize);
        }
        memory.Write(commandLineAddress, commandLine);
        memory.Write(new GuestAddress(commandLineAddress.Value + (ulong)commandLine.Length), (byte)0);

        BootState boot;
        if (pvh)
        {
            WriteStartInfo(memory, bootInfo, commandLineAddress, options.AcpiRsdpAddress, map, initrdAddress, initrdSize);
            boot = new BootState(BootCpuMode.Pvh, image.PvhEntry!.Value, bootInfo);
        }
        else
        {
            WriteZeroPage(memory, bootInfo, image, platform, commandLineAddress, options.AcpiRsdpAddress, map, initrdAddress, initrdSize);
            boot = platform == BootPlatform.Pc && image.Entry64 is { } entry64
                ? new BootState(BootCpuMode.Linux64, entry64, bootInfo)
                : new BootState(BootCpuMode.Linux32, image.Entry32!.Value, bootInfo);
        }

        return new LoadedKernel
        {
            Boot = boot,
            Protocol = pvh ? BootProtocolKind.Pvh : image.Format,
            KernelPath = kernel.Path,
            KernelAddress = image.KernelAddress,
            Entry32 = image.Entry32,
            Entry64 = image.Entry64,
            PvhEntry = image.PvhEntry,
            CommandLineAddress = commandLineAddress,
            CommandLineLength = commandLine.Length,
            InitrdAddress = initrdAddress,
            InitrdSize = initrdSize,
            MemoryMap = map,
            Ranges = ranges.OrderBy(r => r.Start).ThenBy(r => r.Length).ToArray(),
            ImageHeader = image.HeaderFromImage ? image.Header : null,
        };
    }

    /// <summary>Reads the first bytes of <paramref name="file"/> and hands it to the parser its magic names.</summary>
    private static KernelImage Parse(KernelFile file, BootPlatform platform, GuestMemoryLayout layout)
    {
        byte[] probe = new byte[BzImageLoader.ProbeSize]; // zero-padded past the end of a short file
        file.ReadExactly(0, probe.AsSpan(0, (int)Math.Min(file.Length, probe.Length)));
        if (ElfLoader.HasMagic(probe))
            return ElfLoader.Parse(file, probe, platform, layout);
        if (BzImageLoader.HasMagic(probe))
            return BzImageLoader.Parse(file, probe, platform, layout);
        if (file.Length < 0x206)
            throw file.Refuse($"is truncated or not a kernel: {file.Length} bytes, too short for a bzImage setup header and no ELF magic");
        throw file.Refuse("is neither a bzImage (no \"HdrS\" at 0x202) nor an ELF vmlinux (no \\x7fELF magic)");
    }

    /// <summary>The command line as the kernel reads it (UTF-8, no NUL yet), checked against the kernel's and the platform's limits.</summary>
    private static byte[] EncodeCommandLine(KernelFile kernel, string commandLine, uint cmdlineSize, BootPlatform platform)
    {
        if (commandLine.Contains('\0', StringComparison.Ordinal))
            throw kernel.Refuse("cannot take a command line containing a NUL character");
        byte[] bytes = Encoding.UTF8.GetBytes(commandLine);
        if ((ulong)bytes.Length > cmdlineSize)
            throw kernel.Refuse($"takes a command line of at most {cmdlineSize} bytes (cmdline_size); this one is {bytes.Length}");
        ulong room = platform == BootPlatform.Lguest
            ? LguestLowMemory.KernelLoadAddress - LguestLowMemory.CommandLine
            : PcLowMemory.CommandLineEnd - PcLowMemory.CommandLine;
        if ((ulong)bytes.Length + 1 > room)
            throw kernel.Refuse($"cannot be given a {bytes.Length}-byte command line: the platform keeps {room - 1} bytes for it");
        return bytes;
    }

    private static ulong RoundUpToPage(ulong bytes) =>
        bytes > ulong.MaxValue - (GuestMemoryLayout.PageSize - 1) ? ulong.MaxValue & ~(GuestMemoryLayout.PageSize - 1)
            : (bytes + GuestMemoryLayout.PageSize - 1) & ~(GuestMemoryLayout.PageSize - 1);

    /// <summary>Whether [<paramref name="start"/>, +<paramref name="length"/>) is inside one RAM region and below 4 GiB (the boot page tables' reach).</summary>
    internal static bool FitsBelow4G(GuestMemoryLayout layout, ulong start, ulong length) =>
        start <= GuestMemoryLayout.FourGiB && length <= GuestMemoryLayout.FourGiB - start && layout.Contains(new GuestAddress(start), length);

    /// <summary>Guest RAM as a short list of ranges, for messages.</summary>
    internal static string DescribeRam(GuestMemoryLayout layout) =>
        "RAM " + string.Join(", ", layout.Regions.Select(r => r.ToString()));
}
