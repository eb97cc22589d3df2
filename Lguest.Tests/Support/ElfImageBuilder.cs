using System.Buffers.Binary;

namespace Lguest.Tests.Support;

/// <summary>
/// Builds a small ELF executable in memory: the ELF header, the program headers right after it, then
/// each segment's file bytes and each note segment. Defaults describe an x86-64 vmlinux with one
/// segment at 16 MiB; tests add segments and notes or break one field.
/// </summary>
internal sealed class ElfImageBuilder
{
    public const ushort EmX8664 = 62, Em386 = 3;
    public const uint PtLoad = 1, PtNote = 4;

    private readonly List<(uint Type, ulong Paddr, ulong Vaddr, byte[] Data, ulong MemSize, ulong Align)> _segments = [];

    public bool Is64 { get; set; } = true;
    public byte DataEncoding { get; set; } = 1;
    public byte Class { get; set; }
    public ushort Type { get; set; } = 2;
    public ushort? Machine { get; set; }
    public ulong Entry { get; set; } = 0x100_0000;
    public ushort? PhEntSize { get; set; }
    public ushort? PhNum { get; set; }
    public ulong? PhOff { get; set; }
    public int? TruncateTo { get; set; }

    /// <summary>File offset where each segment's data starts, known after <see cref="Build"/>.</summary>
    public List<ulong> DataOffsets { get; } = [];

    public ElfImageBuilder Load(ulong paddr, byte[] data, ulong? memSize = null, ulong? vaddr = null)
    {
        _segments.Add((PtLoad, paddr, vaddr ?? paddr, data, memSize ?? (ulong)data.Length, 0x1000));
        return this;
    }

    public ElfImageBuilder Note(string name, uint type, byte[] desc, ulong align = 4)
    {
        byte[] nameBytes = [.. System.Text.Encoding.ASCII.GetBytes(name), 0];
        int a = (int)align;
        int Pad(int n) => (n + a - 1) / a * a;
        var note = new byte[12 + Pad(nameBytes.Length) + Pad(desc.Length)];
        BinaryPrimitives.WriteUInt32LittleEndian(note, (uint)nameBytes.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(note.AsSpan(4), (uint)desc.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(note.AsSpan(8), type);
        nameBytes.CopyTo(note, 12);
        desc.CopyTo(note, 12 + Pad(nameBytes.Length));
        _segments.Add((PtNote, 0, 0, note, (ulong)note.Length, align));
        return this;
    }

    /// <summary>A segment with raw fields, for headers that lie.</summary>
    public ElfImageBuilder Raw(uint type, ulong paddr, byte[] data, ulong memSize)
    {
        _segments.Add((type, paddr, paddr, data, memSize, 0x1000));
        return this;
    }

    public ElfImageBuilder PvhNote(ulong entry, int size = 8)
    {
        var desc = new byte[size];
        if (size == 4)
            BinaryPrimitives.WriteUInt32LittleEndian(desc, (uint)entry);
        else if (size == 8)
            BinaryPrimitives.WriteUInt64LittleEndian(desc, entry);
        return Note("Xen", 18, desc);
    }

    /// <summary>Overrides of segment fields after layout: (index, fileOffset, fileSize).</summary>
    public Dictionary<int, (ulong? Offset, ulong? FileSize)> SegmentOverrides { get; } = [];

    public byte[] Build()
    {
        int ehsize = Is64 ? 64 : 52;
        int phentsize = Is64 ? 56 : 32;
        ulong phoff = (ulong)ehsize;
        ulong dataStart = phoff + (ulong)(phentsize * _segments.Count);
        ulong offset = (dataStart + 15) & ~15UL;
        DataOffsets.Clear();
        foreach (var s in _segments)
        {
            DataOffsets.Add(offset);
            offset = (offset + (ulong)s.Data.Length + 15) & ~15UL;
        }
        var file = new byte[offset];
        file[0] = 0x7f; file[1] = (byte)'E'; file[2] = (byte)'L'; file[3] = (byte)'F';
        file[4] = Class != 0 ? Class : (byte)(Is64 ? 2 : 1);
        file[5] = DataEncoding;
        file[6] = 1;
        Span<byte> f = file;
        BinaryPrimitives.WriteUInt16LittleEndian(f[16..], Type);
        BinaryPrimitives.WriteUInt16LittleEndian(f[18..], Machine ?? (Is64 ? EmX8664 : Em386));
        BinaryPrimitives.WriteUInt32LittleEndian(f[20..], 1);
        if (Is64)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(f[24..], Entry);
            BinaryPrimitives.WriteUInt64LittleEndian(f[32..], PhOff ?? phoff);
            BinaryPrimitives.WriteUInt16LittleEndian(f[52..], (ushort)ehsize);
            BinaryPrimitives.WriteUInt16LittleEndian(f[54..], PhEntSize ?? (ushort)phentsize);
            BinaryPrimitives.WriteUInt16LittleEndian(f[56..], PhNum ?? (ushort)_segments.Count);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(f[24..], (uint)Entry);
            BinaryPrimitives.WriteUInt32LittleEndian(f[28..], (uint)(PhOff ?? phoff));
            BinaryPrimitives.WriteUInt16LittleEndian(f[40..], (ushort)ehsize);
            BinaryPrimitives.WriteUInt16LittleEndian(f[42..], PhEntSize ?? (ushort)phentsize);
            BinaryPrimitives.WriteUInt16LittleEndian(f[44..], PhNum ?? (ushort)_segments.Count);
        }
        for (int i = 0; i < _segments.Count; i++)
        {
            var s = _segments[i];
            Span<byte> ph = f.Slice((int)phoff + i * phentsize, phentsize);
            ulong dataOffset = DataOffsets[i];
            ulong fileSize = (ulong)s.Data.Length;
            if (SegmentOverrides.TryGetValue(i, out var o))
            {
                dataOffset = o.Offset ?? dataOffset;
                fileSize = o.FileSize ?? fileSize;
            }
            if (Is64)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(ph, s.Type);
                BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], 7);
                BinaryPrimitives.WriteUInt64LittleEndian(ph[8..], dataOffset);
                BinaryPrimitives.WriteUInt64LittleEndian(ph[16..], s.Vaddr);
                BinaryPrimitives.WriteUInt64LittleEndian(ph[24..], s.Paddr);
                BinaryPrimitives.WriteUInt64LittleEndian(ph[32..], fileSize);
                BinaryPrimitives.WriteUInt64LittleEndian(ph[40..], s.MemSize);
                BinaryPrimitives.WriteUInt64LittleEndian(ph[48..], s.Align);
            }
            else
            {
                BinaryPrimitives.WriteUInt32LittleEndian(ph, s.Type);
                BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], (uint)dataOffset);
                BinaryPrimitives.WriteUInt32LittleEndian(ph[8..], (uint)s.Vaddr);
                BinaryPrimitives.WriteUInt32LittleEndian(ph[12..], (uint)s.Paddr);
                BinaryPrimitives.WriteUInt32LittleEndian(ph[16..], (uint)fileSize);
                BinaryPrimitives.WriteUInt32LittleEndian(ph[20..], (uint)s.MemSize);
                BinaryPrimitives.WriteUInt32LittleEndian(ph[24..], 7);
                BinaryPrimitives.WriteUInt32LittleEndian(ph[28..], (uint)s.Align);
            }
            s.Data.CopyTo(f[(int)DataOffsets[i]..]);
        }
        return TruncateTo is int n ? file[..n] : file;
    }
}
