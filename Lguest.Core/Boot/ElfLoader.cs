using System.Buffers.Binary;
using Lguest.Memory;

namespace Lguest.Boot;

/// <summary>
/// Reads and places an ELF vmlinux: its PT_LOAD segments go to their physical addresses (p_paddr),
/// p_filesz bytes copied and the rest of p_memsz zeroed, as the lguest launcher's map_elf did; its
/// PT_NOTE segments are searched for the PVH entry (XEN_ELFNOTE_PHYS32_ENTRY). Field offsets follow
/// the System V gABI (Elf32_Ehdr/Elf64_Ehdr, Elf32_Phdr/Elf64_Phdr).
/// </summary>
internal static class ElfLoader
{
    /// <summary>The longest command line a vmlinux takes, without the NUL: x86 COMMAND_LINE_SIZE (2048) less one.</summary>
    public const uint DefaultCmdlineSize = 2047;

    /// <summary>Program headers accepted: a vmlinux has about five; the bound keeps the header table read small.</summary>
    public const int MaxProgramHeaders = 2048;

    /// <summary>Bytes of each PT_NOTE segment searched: a vmlinux's notes take a few hundred.</summary>
    public const int MaxNoteBytes = 64 * 1024;

    private const int IdentSize = 16;
    private const byte ElfClass32 = 1, ElfClass64 = 2;  // EI_CLASS
    private const byte ElfData2Lsb = 1;                  // EI_DATA
    private const byte EvCurrent = 1;                    // EI_VERSION
    private const ushort EtExec = 2;                     // e_type
    private const ushort Em386 = 3, EmX8664 = 62;        // e_machine
    private const uint PtLoad = 1, PtNote = 4;           // p_type
    private const uint XenElfnotePhys32Entry = 18;       // xen/include/public/elfnote.h

    /// <summary>Whether <paramref name="probe"/> starts with the ELF magic "\x7fELF".</summary>
    public static bool HasMagic(ReadOnlySpan<byte> probe) =>
        probe.Length >= 4 && probe[0] == 0x7f && probe[1] == (byte)'E' && probe[2] == (byte)'L' && probe[3] == (byte)'F';

    /// <summary>Checks the ELF vmlinux in <paramref name="file"/> and its segments against <paramref name="layout"/>.</summary>
    /// <param name="file">The kernel file.</param>
    /// <param name="probe">The file's first bytes (at least 64, zero-padded past its end).</param>
    /// <param name="platform">Where the kernel runs: lguest takes only 32-bit x86 kernels.</param>
    /// <param name="layout">Guest RAM.</param>
    /// <exception cref="KernelImageException">The file is malformed, for another machine, or does not fit.</exception>
    public static KernelImage Parse(KernelFile file, ReadOnlySpan<byte> probe, BootPlatform platform, GuestMemoryLayout layout)
    {
        ulong fileLength = (ulong)file.Length;
        if (fileLength < IdentSize)
            throw file.Refuse($"is truncated: {fileLength} bytes, shorter than an ELF identification");
        byte elfClass = probe[4];
        if (elfClass is not (ElfClass32 or ElfClass64))
            throw file.Refuse($"has ELF class {elfClass}, neither ELF32 (1) nor ELF64 (2)");
        bool is64 = elfClass == ElfClass64;
        if (probe[5] != ElfData2Lsb)
            throw file.Refuse(probe[5] == 2 ? "is a big-endian ELF file; x86 kernels are little-endian" : $"has unknown ELF data encoding {probe[5]}");
        if (probe[6] != EvCurrent)
            throw file.Refuse($"has ELF version {probe[6]}, not 1");
        int headerSize = is64 ? 64 : 52;
        if (fileLength < (ulong)headerSize)
            throw file.Refuse($"is truncated: {fileLength} bytes, shorter than the {headerSize}-byte ELF header");

        ushort type = U16(probe, 16);
        ushort machine = U16(probe, 18);
        if (type != EtExec)
            throw file.Refuse($"is an ELF file of type {type} ({TypeName(type)}), not an executable (ET_EXEC) vmlinux");
        ushort expectedMachine = is64 ? EmX8664 : Em386;
        if (machine != expectedMachine)
            throw file.Refuse($"is an ELF{(is64 ? 64 : 32)} file for machine {machine} ({MachineName(machine)}), not {MachineName(expectedMachine)}");
        if (platform == BootPlatform.Lguest && is64)
            throw file.Refuse("is a 64-bit ELF kernel: lguest boots only 32-bit x86 (ELF32, EM_386) kernels");

        ulong entry = is64 ? U64(probe, 24) : U32(probe, 24);
        ulong phoff = is64 ? U64(probe, 32) : U32(probe, 28);
        int phentsize = U16(probe, is64 ? 54 : 42);
        int phnum = U16(probe, is64 ? 56 : 44);
        int expectedPhentsize = is64 ? 56 : 32;
        if (phentsize != expectedPhentsize)
            throw file.Refuse($"has e_phentsize {phentsize}, not the {expectedPhentsize}-byte ELF{(is64 ? 64 : 32)} program header");
        if (phnum == 0)
            throw file.Refuse("has no program headers (e_phnum 0)");
        if (phnum > MaxProgramHeaders)
            throw file.Refuse($"has {phnum} program headers, more than the {MaxProgramHeaders} accepted");
        ulong tableSize = (ulong)phnum * (ulong)phentsize;
        if (phoff > fileLength || tableSize > fileLength - phoff)
            throw file.Refuse($"has program headers at 0x{phoff:x} ({phnum} x {phentsize} bytes) pointing past the end of the {fileLength}-byte file");
        byte[] table = new byte[tableSize];
        file.ReadExactly((long)phoff, table);

        var segments = new List<(int Index, KernelSegment Segment, ulong VirtualAddress)>();
        GuestAddress? pvhEntry = null;
        for (int i = 0; i < phnum; i++)
        {
            ReadOnlySpan<byte> ph = table.AsSpan(i * phentsize, phentsize);
            ProgramHeader p = is64
                ? new(U32(ph, 0), U64(ph, 8), U64(ph, 16), U64(ph, 24), U64(ph, 32), U64(ph, 40), U64(ph, 48))
                : new(U32(ph, 0), U32(ph, 4), U32(ph, 8), U32(ph, 12), U32(ph, 16), U32(ph, 20), U32(ph, 28));
            if (p.Type is not (PtLoad or PtNote))
                continue;
            if (p.FileSize > fileLength || p.Offset > fileLength - p.FileSize)
                throw file.Refuse($"has segment {i} with file bytes [0x{p.Offset:x}, +0x{p.FileSize:x}) pointing past the end of the {fileLength}-byte file");
            if (p.Type == PtNote)
            {
                GuestAddress? found = FindPvhEntry(file, p, i);
                pvhEntry ??= found;
                continue;
            }
            if (p.MemorySize == 0)
                continue;
            if (p.FileSize > p.MemorySize)
                throw file.Refuse($"has segment {i} with p_filesz 0x{p.FileSize:x} larger than p_memsz 0x{p.MemorySize:x}");
            if (p.PhysicalAddress > ulong.MaxValue - p.MemorySize)
                throw file.Refuse($"has segment {i} at [0x{p.PhysicalAddress:x}, +0x{p.MemorySize:x}), which wraps past 2^64");
            if (p.PhysicalAddress < PcLowMemory.HighMemory)
                throw file.Refuse($"has segment {i} at [0x{p.PhysicalAddress:x}, 0x{p.PhysicalAddress + p.MemorySize:x}) overlapping the boot area below 1 MiB (zero page, command line, page tables)");
            if (!KernelLoader.FitsBelow4G(layout, p.PhysicalAddress, p.MemorySize))
                throw file.Refuse($"has segment {i} at [0x{p.PhysicalAddress:x}, 0x{p.PhysicalAddress + p.MemorySize:x}) outside guest RAM below 4 GiB ({KernelLoader.DescribeRam(layout)})");
            var segment = new KernelSegment($"kernel segment {i}", new GuestAddress(p.PhysicalAddress), (long)p.Offset, p.FileSize, p.MemorySize);
            segments.Add((i, segment, p.VirtualAddress));
        }
        if (segments.Count == 0)
            throw file.Refuse("has no loadable (PT_LOAD) segments");

        segments.Sort((a, b) => a.Segment.Address.CompareTo(b.Segment.Address));
        for (int i = 1; i < segments.Count; i++)
        {
            if (segments[i - 1].Segment.Range.Overlaps(segments[i].Segment.Range))
                throw file.Refuse($"has overlapping segments {segments[i - 1].Index} {Span(segments[i - 1].Segment)} and {segments[i].Index} {Span(segments[i].Segment)}");
        }

        GuestAddress entryAddress = PhysicalEntry(file, entry, segments);
        if (pvhEntry is { } pvh && !segments.Exists(s => s.Segment.Range.Contains(pvh)))
            throw file.Refuse($"has its PVH entry (XEN_ELFNOTE_PHYS32_ENTRY) at {pvh}, in no loadable segment");

        return new KernelImage
        {
            Format = BootProtocolKind.ElfVmlinux,
            Segments = segments.ConvertAll(s => s.Segment),
            KernelAddress = segments[0].Segment.Address,
            Entry32 = is64 ? null : entryAddress,
            Entry64 = is64 ? entryAddress : null,
            PvhEntry = pvhEntry,
            Header = default,
            CmdlineSize = DefaultCmdlineSize,
            // A vmlinux is entered past the decompressor, which is what imposes initrd_addr_max; the
            // kernel proper takes an initrd anywhere the loader can reach (below 4 GiB here).
            InitrdAddrMax = GuestMemoryLayout.FourGiB - 1,
        };
    }

    /// <summary>
    /// e_entry as a physical address: a vmlinux's e_entry is physical (phys_startup_32/64) but an ELF
    /// linked otherwise may give the virtual one, which is translated through its segment.
    /// </summary>
    private static GuestAddress PhysicalEntry(KernelFile file, ulong entry, List<(int Index, KernelSegment Segment, ulong VirtualAddress)> segments)
    {
        foreach (var s in segments)
        {
            if (s.Segment.Range.Contains(new GuestAddress(entry)))
                return new GuestAddress(entry);
        }
        foreach (var s in segments)
        {
            if (entry >= s.VirtualAddress && entry - s.VirtualAddress < s.Segment.MemorySize)
                return new GuestAddress(s.Segment.Address.Value + (entry - s.VirtualAddress));
        }
        throw file.Refuse($"has its entry point 0x{entry:x} in no loadable segment");
    }

    /// <summary>The PVH entry from a PT_NOTE segment's XEN_ELFNOTE_PHYS32_ENTRY note, if it has one.</summary>
    private static GuestAddress? FindPvhEntry(KernelFile file, ProgramHeader note, int index)
    {
        byte[] notes = new byte[Math.Min(note.FileSize, MaxNoteBytes)];
        file.ReadExactly((long)note.Offset, notes);
        // Note names and descriptors are padded to 4 bytes (8 when the segment says so).
        int align = note.Align == 8 ? 8 : 4;
        int pos = 0;
        while (notes.Length - pos >= 12)
        {
            uint nameSize = U32(notes, pos);
            uint descSize = U32(notes, pos + 4);
            uint type = U32(notes, pos + 8);
            long nameStart = pos + 12;
            long descStart = nameStart + AlignUp(nameSize, align);
            long next = descStart + AlignUp(descSize, align);
            if (descStart + descSize > notes.Length)
                break; // a note running past the segment (or past what is searched) ends the search
            ReadOnlySpan<byte> name = notes.AsSpan((int)nameStart, (int)nameSize);
            if (type == XenElfnotePhys32Entry && name.SequenceEqual("Xen\0"u8))
            {
                ReadOnlySpan<byte> desc = notes.AsSpan((int)descStart, (int)descSize);
                ulong address = descSize switch
                {
                    4 => U32(desc, 0),
                    8 => U64(desc, 0),
                    _ => throw file.Refuse($"has a XEN_ELFNOTE_PHYS32_ENTRY note (segment {index}) with a {descSize}-byte descriptor, not 4 or 8"),
                };
                if (address >= GuestMemoryLayout.FourGiB)
                    throw file.Refuse($"has its PVH entry (XEN_ELFNOTE_PHYS32_ENTRY) at 0x{address:x}, above 4 GiB where a 32-bit entry cannot be");
                return new GuestAddress(address);
            }
            if (next >= notes.Length)
                break;
            pos = (int)next;
        }
        return null;
    }

    private static long AlignUp(uint value, int align) => ((long)value + align - 1) & ~(long)(align - 1);

    private static string Span(KernelSegment s) => $"[{s.Address}, {s.Range.End})";

    private static ushort U16(ReadOnlySpan<byte> b, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(b[offset..]);

    private static uint U32(ReadOnlySpan<byte> b, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(b[offset..]);

    private static ulong U64(ReadOnlySpan<byte> b, int offset) => BinaryPrimitives.ReadUInt64LittleEndian(b[offset..]);

    private static string TypeName(ushort type) => type switch
    {
        0 => "ET_NONE",
        1 => "ET_REL, a relocatable object",
        3 => "ET_DYN, a shared object or position-independent executable",
        4 => "ET_CORE, a core dump",
        _ => "unknown",
    };

    private static string MachineName(ushort machine) => machine switch
    {
        2 => "SPARC",
        3 => "x86 (EM_386)",
        8 => "MIPS",
        20 => "PowerPC",
        21 => "PowerPC64",
        22 => "S/390",
        40 => "ARM",
        43 => "SPARC V9",
        62 => "x86-64 (EM_X86_64)",
        183 => "AArch64",
        243 => "RISC-V",
        258 => "LoongArch",
        _ => "unknown",
    };

    /// <summary>The fields of an Elf32_Phdr or Elf64_Phdr the loader uses, widened to 64 bits.</summary>
    private readonly record struct ProgramHeader(uint Type, ulong Offset, ulong VirtualAddress, ulong PhysicalAddress, ulong FileSize, ulong MemorySize, ulong Align);
}
