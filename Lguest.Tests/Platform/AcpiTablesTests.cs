using System.Buffers.Binary;
using System.Text;
using Lguest.Memory;
using Lguest.Platform;

namespace Lguest.Tests.Platform;

/// <summary>The tables read back as ACPICA would: from the RSDP, by signature, with checksums.</summary>
public class AcpiTablesTests
{
    private GuestMemory _memory = null!;
    private GuestAddress _rsdp;

    [SetUp]
    public void SetUp()
    {
        _memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(2 << 20));
        _rsdp = AcpiTables.Write(_memory, cpuCount: 2, levelTriggeredIrqs: [5, 10]);
    }

    [TearDown]
    public void TearDown() => _memory.Dispose();

    private byte[] Bytes(ulong address, int length) => _memory.GetSpan(new GuestAddress(address), length).ToArray();

    private byte[] Table(ulong address) => Bytes(address, (int)_memory.Read<uint>(new GuestAddress(address + 4)));

    private static int Sum(byte[] bytes) => bytes.Aggregate(0, (s, b) => (s + b) & 0xFF);

    private Dictionary<string, byte[]> TablesFromXsdt()
    {
        byte[] rsdp = Bytes(_rsdp.Value, 36);
        byte[] xsdt = Table(BinaryPrimitives.ReadUInt64LittleEndian(rsdp.AsSpan(24)));
        var tables = new Dictionary<string, byte[]> { ["XSDT"] = xsdt };
        for (int at = 36; at < xsdt.Length; at += 8)
        {
            byte[] t = Table(BinaryPrimitives.ReadUInt64LittleEndian(xsdt.AsSpan(at)));
            tables[Encoding.ASCII.GetString(t, 0, 4)] = t;
        }
        byte[] fadt = tables["FACP"];
        tables["DSDT"] = Table(BinaryPrimitives.ReadUInt64LittleEndian(fadt.AsSpan(140)));
        return tables;
    }

    [Test]
    public void The_RSDP_is_at_0xE0000_with_both_checksums_valid()
    {
        byte[] rsdp = Bytes(_rsdp.Value, 36);
        Assert.That(_rsdp.Value, Is.EqualTo(0xE0000UL));
        Assert.That(Encoding.ASCII.GetString(rsdp, 0, 8), Is.EqualTo("RSD PTR "));
        Assert.That((Sum(rsdp[..20]), Sum(rsdp), rsdp[15]), Is.EqualTo((0, 0, (byte)2)));
    }

    [Test]
    public void Every_table_has_a_valid_checksum()
    {
        foreach ((string name, byte[] table) in TablesFromXsdt())
            Assert.That(Sum(table), Is.Zero, name);
    }

    [Test]
    public void The_FADT_points_at_the_PM_registers_the_reset_register_and_the_SCI()
    {
        byte[] fadt = TablesFromXsdt()["FACP"];
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(56)), Is.EqualTo(0x600u));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(64)), Is.EqualTo(0x604u));
        Assert.That(BinaryPrimitives.ReadUInt16LittleEndian(fadt.AsSpan(46)), Is.EqualTo(9));
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(48)), Is.Zero, "no SMI_CMD");
        Assert.That(BinaryPrimitives.ReadUInt32LittleEndian(fadt.AsSpan(112)) & (1u << 10), Is.Not.Zero, "RESET_REG_SUP");
        Assert.That((fadt[116], BinaryPrimitives.ReadUInt64LittleEndian(fadt.AsSpan(120)), fadt[128]), Is.EqualTo(((byte)1, 0xCF9UL, (byte)6)));
    }

    [Test]
    public void The_DSDT_defines_S5_as_sleep_type_0()
    {
        byte[] dsdt = TablesFromXsdt()["DSDT"];
        Assert.That(dsdt[36..], Is.EqualTo(new byte[] { 0x08, (byte)'_', (byte)'S', (byte)'5', (byte)'_', 0x12, 0x06, 0x04, 0, 0, 0, 0 }));
    }

    [Test]
    public void The_MADT_lists_a_local_APIC_per_vCPU_the_IOAPIC_and_the_overrides()
    {
        byte[] madt = TablesFromXsdt()["APIC"];
        var lapics = new List<int>();
        var overrides = new Dictionary<int, (uint Gsi, ushort Flags)>();
        uint ioapic = 0;
        for (int at = 44; at < madt.Length; at += madt[at + 1])
        {
            switch (madt[at])
            {
                case 0: lapics.Add(madt[at + 3]); break;
                case 1: ioapic = BinaryPrimitives.ReadUInt32LittleEndian(madt.AsSpan(at + 4)); break;
                case 2: overrides[madt[at + 3]] = (BinaryPrimitives.ReadUInt32LittleEndian(madt.AsSpan(at + 4)), BinaryPrimitives.ReadUInt16LittleEndian(madt.AsSpan(at + 8))); break;
            }
        }
        Assert.That(lapics, Is.EqualTo(new[] { 0, 1 }));
        Assert.That(ioapic, Is.EqualTo(0xFEC00000u));
        Assert.That(overrides[0], Is.EqualTo((2u, (ushort)0)));
        Assert.That(overrides[9], Is.EqualTo((9u, (ushort)0xD)));
        Assert.That(overrides[5], Is.EqualTo((5u, (ushort)0xD)));
        Assert.That(overrides[10], Is.EqualTo((10u, (ushort)0xD)));
    }

    [Test]
    public void Without_a_PCI_window_the_DSDT_declares_no_host_bridge()
    {
        byte[] dsdt = TablesFromXsdt()["DSDT"];
        Assert.That(dsdt.AsSpan().IndexOf("PNP"u8), Is.EqualTo(-1));
        Assert.That(dsdt.AsSpan().IndexOf(new byte[] { 0x5B, 0x82 }), Is.EqualTo(-1));
    }

    [Test]
    public void With_a_PCI_window_the_DSDT_declares_the_host_bridge_PCI0_with_bus_0_the_IO_ports_and_the_window_as_resources()
    {
        var window = new GuestMemoryRegion(new GuestAddress(0xC000_0000), 0xFEC0_0000 - 0xC000_0000);
        AcpiTables.Write(_memory, cpuCount: 1, levelTriggeredIrqs: [5], pciMmioWindow: window);
        byte[] dsdt = TablesFromXsdt()["DSDT"];
        Assert.That(Sum(dsdt), Is.Zero, "checksum");

        // After \_S5: DeviceOp, a PkgLength reaching exactly the end of the table, the name \_SB_.PCI0.
        int at = 36 + 12;
        Assert.That(dsdt.AsSpan(at, 2).ToArray(), Is.EqualTo(new byte[] { 0x5B, 0x82 }));
        (int length, int lengthBytes) = PackageLength(dsdt, at + 2);
        Assert.That(at + 2 + length, Is.EqualTo(dsdt.Length), "the device's PkgLength");
        int body = at + 2 + lengthBytes;
        Assert.That(dsdt.AsSpan(body, 10).ToArray(), Is.EqualTo((byte[])[0x5C, 0x2E, .. "_SB_PCI0"u8]));
        body += 10;
        Assert.That(dsdt.AsSpan(body, 10).ToArray(), Is.EqualTo((byte[])[0x08, .. "_HID"u8, 0x0C, 0x41, 0xD0, 0x0A, 0x03]), "EisaId PNP0A03");
        Assert.That(dsdt.AsSpan(body + 10, 6).ToArray(), Is.EqualTo((byte[])[0x08, .. "_UID"u8, 0x00]));
        int crs = body + 16;
        Assert.That(dsdt.AsSpan(crs, 6).ToArray(), Is.EqualTo((byte[])[0x08, .. "_CRS"u8, 0x11]), "Name (_CRS, Buffer)");
        (int bufferLength, int bufferLengthBytes) = PackageLength(dsdt, crs + 6);
        Assert.That(crs + 6 + bufferLength, Is.EqualTo(dsdt.Length), "the buffer ends the device");
        int size = crs + 6 + bufferLengthBytes;
        Assert.That(dsdt[size], Is.EqualTo(0x0A), "BytePrefix buffer size");
        byte[] template = dsdt.AsSpan(size + 2, dsdt[size + 1]).ToArray();
        Assert.That(size + 2 + template.Length, Is.EqualTo(dsdt.Length));

        // The resource template, descriptor by descriptor (ACPI 6.5 §6.4).
        var ranges = new List<(int Type, ulong Min, ulong Max, ulong Length)>();
        var ioPorts = new List<(int Min, int Length)>();
        bool ended = false;
        for (int r = 0; r < template.Length && !ended;)
        {
            byte tag = template[r];
            if ((tag & 0x80) == 0)
            {
                int small = tag & 7;
                if (tag >> 3 == 0x0F)
                    ended = true;
                else if (tag >> 3 == 0x08)
                    ioPorts.Add((BinaryPrimitives.ReadUInt16LittleEndian(template.AsSpan(r + 2)), template[r + 7]));
                r += 1 + small;
                continue;
            }
            int large = BinaryPrimitives.ReadUInt16LittleEndian(template.AsSpan(r + 1));
            Span<byte> d = template.AsSpan(r + 3, large);
            if (tag == 0x88)
                ranges.Add((d[0], BinaryPrimitives.ReadUInt16LittleEndian(d[5..]), BinaryPrimitives.ReadUInt16LittleEndian(d[7..]), BinaryPrimitives.ReadUInt16LittleEndian(d[11..])));
            else if (tag == 0x8A)
                ranges.Add((d[0], BinaryPrimitives.ReadUInt64LittleEndian(d[11..]), BinaryPrimitives.ReadUInt64LittleEndian(d[19..]), BinaryPrimitives.ReadUInt64LittleEndian(d[35..])));
            else
                Assert.Fail($"unexpected descriptor 0x{tag:x2}");
            Assert.That(d[1], Is.EqualTo(0x0C), "MinFixed | MaxFixed, producer");
            r += 3 + large;
        }
        Assert.Multiple(() =>
        {
            Assert.That(ended, Is.True, "an End Tag");
            Assert.That(ioPorts, Is.EqualTo(new[] { (0xCF8, 8) }));
            Assert.That(ranges, Is.EqualTo(new (int, ulong, ulong, ulong)[]
            {
                (2, 0, 0, 1),
                (1, 0, 0xCF7, 0xCF8),
                (1, 0xD00, 0xFFFF, 0xF300),
                (0, 0xC000_0000, 0xFEBF_FFFF, 0x3EC0_0000),
            }));
        });
    }

    /// <summary>An AML PkgLength at <paramref name="at"/>: the length it encodes (itself included) and its bytes.</summary>
    private static (int Length, int Bytes) PackageLength(byte[] aml, int at)
    {
        int lead = aml[at], follow = lead >> 6;
        if (follow == 0)
            return (lead & 0x3F, 1);
        int length = lead & 0x0F;
        for (int i = 0; i < follow; i++)
            length |= aml[at + 1 + i] << (4 + 8 * i);
        return (length, 1 + follow);
    }
}
