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
}
