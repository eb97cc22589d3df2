using System.Buffers.Binary;
using System.Text;
using Lguest.Memory;

namespace Lguest.Platform;

/// <summary>
/// The minimal ACPI tables (ACPI 6.5 §5.2) a Linux guest needs to find its interrupt controllers and
/// to power off and reboot: RSDP → XSDT → FADT (PM1a registers at 0x600/0x604, reset register 0xCF9,
/// SCI on IRQ 9, no SMI command port: already in ACPI mode) → FACS and DSDT (only <c>\_S5</c>), and
/// the MADT (one local APIC per vCPU, the IOAPIC at 0xFEC00000, IRQ0 → GSI 2, SCI level/high).
/// Written in the BIOS area at 0xE0000, which the e820 map reserves and Linux also scans for the RSDP.
/// </summary>
public static class AcpiTables
{
    /// <summary>Where the tables start; the RSDP is first, 16-byte aligned as the scan requires.</summary>
    public const ulong BaseAddress = 0xE0000;

    /// <summary>The first byte past the tables' area.</summary>
    public const ulong EndAddress = 0xE2000;

    /// <summary>The local APICs' MMIO base.</summary>
    public const uint LocalApicAddress = 0xFEE0_0000;

    /// <summary>The IOAPIC's MMIO base.</summary>
    public const uint IoApicAddress = 0xFEC0_0000;

    /// <summary>The SCI's ISA interrupt, as on PIIX4.</summary>
    public const byte SciInterrupt = 9;

    /// <summary>The most vCPUs the MADT area has room for (8 bytes each).</summary>
    public const int MaxCpus = 255;

    private const ulong RsdpAddress = BaseAddress;
    private const ulong XsdtAddress = BaseAddress + 0x40;
    private const ulong FadtAddress = BaseAddress + 0x100;
    private const ulong FacsAddress = BaseAddress + 0x240; // 64-byte aligned, as the FACS must be
    private const ulong DsdtAddress = BaseAddress + 0x300;
    private const ulong MadtAddress = BaseAddress + 0x400;

    private const int HeaderLength = 36;
    private const int FadtLength = 276; // ACPI 6.x FADT, revision 6
    private const int FacsLength = 64;

    /// <summary>
    /// AML for <c>Name(_S5_, Package(){0, 0, 0, 0})</c>: NameOp, the name, PackageOp, PkgLength 6,
    /// four elements, four ZeroOps. SLP_TYPa = 0 matches <see cref="AcpiPmRegisters.SleepTypeS5"/>.
    /// </summary>
    private static readonly byte[] S5Aml = [0x08, (byte)'_', (byte)'S', (byte)'5', (byte)'_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00];

    /// <summary>Writes the tables for <paramref name="cpuCount"/> vCPUs; returns the RSDP's address.</summary>
    /// <param name="memory">Guest RAM, which must hold 0xE0000-0xE1FFF.</param>
    /// <param name="cpuCount">The vCPUs, each with a local APIC whose ID is its index.</param>
    /// <param name="levelTriggeredIrqs">ISA IRQs wired to PCI INTx# pins: declared level-triggered, active high.</param>
    public static GuestAddress Write(GuestMemory memory, int cpuCount, IEnumerable<int>? levelTriggeredIrqs = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentOutOfRangeException.ThrowIfLessThan(cpuCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cpuCount, MaxCpus);
        memory.Clear(new GuestAddress(BaseAddress), EndAddress - BaseAddress);
        memory.Write(new GuestAddress(DsdtAddress), Dsdt());
        memory.Write(new GuestAddress(FacsAddress), Facs());
        memory.Write(new GuestAddress(FadtAddress), Fadt());
        memory.Write(new GuestAddress(MadtAddress), Madt(cpuCount, levelTriggeredIrqs ?? []));
        memory.Write(new GuestAddress(XsdtAddress), Xsdt(FadtAddress, MadtAddress));
        memory.Write(new GuestAddress(RsdpAddress), Rsdp());
        return new GuestAddress(RsdpAddress);
    }

    internal static byte[] Rsdp()
    {
        var t = new byte[36];
        Encoding.ASCII.GetBytes("RSD PTR ").CopyTo(t, 0);
        Encoding.ASCII.GetBytes("LGUEST").CopyTo(t, 9);
        t[15] = 2;                                              // revision: ACPI 2.0+, XSDT present
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(20), 36);
        BinaryPrimitives.WriteUInt64LittleEndian(t.AsSpan(24), XsdtAddress);
        t[8] = Checksum(t.AsSpan(0, 20));                       // over the ACPI 1.0 part
        t[32] = Checksum(t);                                    // over the whole structure
        return t;
    }

    internal static byte[] Xsdt(params ulong[] tables)
    {
        var t = new byte[HeaderLength + 8 * tables.Length];
        for (int i = 0; i < tables.Length; i++)
            BinaryPrimitives.WriteUInt64LittleEndian(t.AsSpan(HeaderLength + 8 * i), tables[i]);
        return Finish(t, "XSDT", revision: 1);
    }

    internal static byte[] Fadt()
    {
        var t = new byte[FadtLength];
        Span<byte> s = t;
        BinaryPrimitives.WriteUInt32LittleEndian(s[36..], (uint)FacsAddress);          // FIRMWARE_CTRL
        BinaryPrimitives.WriteUInt32LittleEndian(s[40..], (uint)DsdtAddress);          // DSDT
        BinaryPrimitives.WriteUInt16LittleEndian(s[46..], SciInterrupt);               // SCI_INT
        // SMI_CMD (48) stays 0: no SMM, the OS finds the machine already in ACPI mode.
        BinaryPrimitives.WriteUInt32LittleEndian(s[56..], AcpiPmRegisters.EventBlockPort);   // PM1a_EVT_BLK
        BinaryPrimitives.WriteUInt32LittleEndian(s[64..], AcpiPmRegisters.ControlBlockPort); // PM1a_CNT_BLK
        t[88] = AcpiPmRegisters.EventBlockLength;                                      // PM1_EVT_LEN
        t[89] = AcpiPmRegisters.ControlBlockLength;                                    // PM1_CNT_LEN
        BinaryPrimitives.WriteUInt16LittleEndian(s[96..], 101);                        // P_LVL2_LAT > 100: no C2
        BinaryPrimitives.WriteUInt16LittleEndian(s[98..], 1001);                       // P_LVL3_LAT > 1000: no C3
        t[108] = CmosRtc.CenturyRegister;                                              // CENTURY
        BinaryPrimitives.WriteUInt16LittleEndian(s[109..], 1 << 2);                    // IAPC_BOOT_ARCH: VGA not present (and no 8042 to probe)
        const uint wbinvd = 1 << 0, powerButtonIsControlMethod = 1 << 4, sleepButtonIsControlMethod = 1 << 5, resetRegSupported = 1 << 10;
        BinaryPrimitives.WriteUInt32LittleEndian(s[112..], wbinvd | powerButtonIsControlMethod | sleepButtonIsControlMethod | resetRegSupported);
        WriteGas(s[116..], bitWidth: 8, accessSize: 1, ResetControlRegister.Port);     // RESET_REG
        t[128] = ResetControlRegister.ResetValue;                                      // RESET_VALUE
        t[131] = 3;                                                                    // FADT minor version: 6.3
        BinaryPrimitives.WriteUInt64LittleEndian(s[132..], FacsAddress);               // X_FIRMWARE_CTRL
        BinaryPrimitives.WriteUInt64LittleEndian(s[140..], DsdtAddress);               // X_DSDT
        WriteGas(s[148..], bitWidth: 8 * AcpiPmRegisters.EventBlockLength, accessSize: 2, AcpiPmRegisters.EventBlockPort);     // X_PM1a_EVT_BLK
        WriteGas(s[172..], bitWidth: 8 * AcpiPmRegisters.ControlBlockLength, accessSize: 2, AcpiPmRegisters.ControlBlockPort); // X_PM1a_CNT_BLK
        Encoding.ASCII.GetBytes("LGUEST").CopyTo(t, 268);                              // hypervisor vendor identity
        return Finish(t, "FACP", revision: 6);
    }

    internal static byte[] Facs()
    {
        var t = new byte[FacsLength];
        Encoding.ASCII.GetBytes("FACS").CopyTo(t, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(t.AsSpan(4), FacsLength);
        t[32] = 2; // version
        return t;  // the FACS has no checksum
    }

    internal static byte[] Dsdt()
    {
        var t = new byte[HeaderLength + S5Aml.Length];
        S5Aml.CopyTo(t, HeaderLength);
        return Finish(t, "DSDT", revision: 2);
    }

    internal static byte[] Madt(int cpuCount, IEnumerable<int> levelTriggeredIrqs)
    {
        var body = new List<byte>();
        void U16(int v) { body.Add((byte)v); body.Add((byte)(v >> 8)); }
        void U32(uint v) { U16((int)(v & 0xFFFF)); U16((int)(v >> 16)); }
        U32(LocalApicAddress);
        U32(1); // PCAT_COMPAT: the 8259 PICs are there too
        for (int i = 0; i < cpuCount; i++)
        {
            body.AddRange([0, 8, (byte)i, (byte)i]);           // Processor Local APIC: UID i, APIC ID i
            U32(1);                                             // enabled
        }
        body.AddRange([1, 12, 0, 0]);                           // I/O APIC, ID 0, as KVM's in-kernel IOAPIC resets
        U32(IoApicAddress);
        U32(0);                                                 // GSI base
        body.AddRange([2, 10, 0, 0]);                           // Interrupt Source Override: ISA IRQ 0 (PIT)
        U32(2);                                                 //   → GSI 2, the IOAPIC's pin for the 8254
        U16(0);                                                 //   conforming polarity and trigger
        foreach (int irq in levelTriggeredIrqs.Append(SciInterrupt).Where(i => i is > 0 and < 16 and not 2).Distinct().Order())
        {
            body.AddRange([2, 10, 0, (byte)irq]);               // Interrupt Source Override: the SCI, PCI INTx# lines
            U32((uint)irq);                                     //   → the same GSI
            U16(0x000D);                                        //   active high (01), level-triggered (11 << 2)
        }
        body.AddRange([4, 6, 0xFF]);                            // Local APIC NMI, all processors
        U16(0);
        body.Add(1);                                            //   on LINT1
        var t = new byte[HeaderLength + body.Count];
        body.CopyTo(t, HeaderLength);
        return Finish(t, "APIC", revision: 5);
    }

    /// <summary>Fills the standard header (ACPI §5.2.6) and the checksum.</summary>
    private static byte[] Finish(byte[] table, string signature, byte revision)
    {
        Encoding.ASCII.GetBytes(signature).CopyTo(table, 0);
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(4), (uint)table.Length);
        table[8] = revision;
        Encoding.ASCII.GetBytes("LGUEST").CopyTo(table, 10);
        Encoding.ASCII.GetBytes("LGUESTVM").CopyTo(table, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(24), 1);
        Encoding.ASCII.GetBytes("LGST").CopyTo(table, 28);
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(32), 1);
        table[9] = 0;
        table[9] = Checksum(table);
        return table;
    }

    /// <summary>A Generic Address Structure (§5.2.3.2) in system I/O space.</summary>
    private static void WriteGas(Span<byte> at, int bitWidth, byte accessSize, ulong port)
    {
        at[0] = 1; // SystemIO
        at[1] = (byte)bitWidth;
        at[2] = 0;
        at[3] = accessSize;
        BinaryPrimitives.WriteUInt64LittleEndian(at[4..], port);
    }

    private static byte Checksum(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (byte b in bytes)
            sum += b;
        return (byte)(0 - sum);
    }
}
