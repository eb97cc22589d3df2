using System.Buffers.Binary;
using System.Text;
using Lguest.Memory;

namespace Lguest.Platform;

/// <summary>
/// The minimal ACPI tables (ACPI 6.5 §5.2) a Linux guest needs to find its interrupt controllers and
/// to power off and reboot: RSDP → XSDT → FADT (PM1a registers at 0x600/0x604, reset register 0xCF9,
/// SCI on IRQ 9, no SMI command port: already in ACPI mode) → FACS and DSDT (<c>\_S5</c>, and the PCI host
/// bridge <c>\_SB.PCI0</c> when the machine has a PCI bus), and the MADT (one local APIC per vCPU, the IOAPIC
/// at 0xFEC00000, IRQ0 → GSI 2, SCI level/high).
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
    /// <param name="pciMmioWindow">
    /// The PCI bus's memory window, when the machine has a PCI bus: the DSDT then declares the host bridge
    /// (PNP0A03) with bus 0, the I/O ports and this window as its resources. A Linux that finds ACPI scans
    /// PCI only below the host bridges the DSDT names: without one it sees no PCI device at all.
    /// </param>
    public static GuestAddress Write(GuestMemory memory, int cpuCount, IEnumerable<int>? levelTriggeredIrqs = null,
        GuestMemoryRegion? pciMmioWindow = null)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentOutOfRangeException.ThrowIfLessThan(cpuCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cpuCount, MaxCpus);
        memory.Clear(new GuestAddress(BaseAddress), EndAddress - BaseAddress);
        memory.Write(new GuestAddress(DsdtAddress), Dsdt(pciMmioWindow));
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
        // PWR_BUTTON (bit 4) clear: the power button is the fixed feature in PM1 (AcpiPmRegisters.PressPowerButton).
        const uint wbinvd = 1 << 0, sleepButtonIsControlMethod = 1 << 5, resetRegSupported = 1 << 10;
        BinaryPrimitives.WriteUInt32LittleEndian(s[112..], wbinvd | sleepButtonIsControlMethod | resetRegSupported);
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

    internal static byte[] Dsdt(GuestMemoryRegion? pciMmioWindow = null)
    {
        byte[] pci = pciMmioWindow is null ? [] : PciHostBridgeAml(pciMmioWindow);
        var t = new byte[HeaderLength + S5Aml.Length + pci.Length];
        S5Aml.CopyTo(t, HeaderLength);
        pci.CopyTo(t, HeaderLength + S5Aml.Length);
        if ((ulong)t.Length > MadtAddress - DsdtAddress)
            throw new InvalidOperationException($"the DSDT ({t.Length} bytes) overruns the MADT's place");
        return Finish(t, "DSDT", revision: 2);
    }

    /// <summary>
    /// AML (ACPI 6.5 §20) for the host bridge, as QEMU's i440FX declares it minus the interrupt links:
    /// <code>
    /// Device (\_SB.PCI0) {
    ///     Name (_HID, EisaId ("PNP0A03"))
    ///     Name (_UID, Zero)
    ///     Name (_CRS, ResourceTemplate () {
    ///         WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0, 0, 1)
    ///         IO (Decode16, 0x0CF8, 0x0CF8, 1, 8)
    ///         WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, 0x0000, 0x0CF7, 0, 0x0CF8)
    ///         WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, 0x0D00, 0xFFFF, 0, 0xF300)
    ///         QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
    ///                      0, window start, window end - 1, 0, window size)
    ///     })
    /// }
    /// </code>
    /// No _PRT: Linux 6.1 logs "PCI INT A: no GSI" for each device and keeps the IRQ the bus wrote in
    /// PCI_INTERRUPT_LINE, an ISA IRQ whose IOAPIC pin the MADT declares level-triggered, active high
    /// (Lguest.Core/Pci/README.md). GSI entries in a _PRT would be registered active-low, which Linux refuses
    /// on IRQ 9, the SCI's, already level/high: the block device there would get no interrupt.
    /// </summary>
    internal static byte[] PciHostBridgeAml(GuestMemoryRegion window)
    {
        ArgumentNullException.ThrowIfNull(window);
        if (window.Size == 0)
            throw new ArgumentOutOfRangeException(nameof(window), "the PCI memory window is empty");
        var resources = new List<byte>();
        // Word Address Space Descriptor (§6.4.3.5.3): 0x88, length 13, type, general flags, type flags,
        // granularity, minimum, maximum, translation, length. General flags 0x0C: MinFixed | MaxFixed, producer.
        void WordAddress(byte type, byte typeFlags, ushort min, ushort max, ushort length)
        {
            resources.AddRange([0x88, 13, 0, type, 0x0C, typeFlags]);
            foreach (ushort v in new ushort[] { 0, min, max, 0, length })
                resources.AddRange([(byte)v, (byte)(v >> 8)]);
        }
        WordAddress(type: 2, typeFlags: 0, min: 0, max: 0, length: 1);                       // bus 0 only
        resources.AddRange([0x47, 0x01, 0xF8, 0x0C, 0xF8, 0x0C, 0x01, 0x08]);             // IO descriptor: 0xCF8-0xCFF
        WordAddress(type: 1, typeFlags: 3, min: 0x0000, max: 0x0CF7, length: 0x0CF8);     // I/O, entire range
        WordAddress(type: 1, typeFlags: 3, min: 0x0D00, max: 0xFFFF, length: 0xF300);
        // QWord Address Space Descriptor (§6.4.3.5.1): 0x8A, length 43; memory, type flags 0x01: read-write, non-cacheable.
        resources.AddRange([0x8A, 43, 0, 0, 0x0C, 0x01]);
        foreach (ulong v in new[] { 0UL, window.Start.Value, window.End.Value - 1, 0UL, window.Size })
        {
            for (int shift = 0; shift < 64; shift += 8)
                resources.Add((byte)(v >> shift));
        }
        resources.AddRange([0x79, 0]);                                                  // End Tag, checksum 0: none

        var crs = new List<byte> { 0x0A, (byte)resources.Count };                       // BufferSize: BytePrefix n
        crs.AddRange(resources);
        var body = new List<byte>();
        body.AddRange([0x5C, 0x2E, .. "_SB_PCI0"u8]);                                   // \_SB_.PCI0: RootChar, DualNamePrefix
        body.AddRange([0x08, .. "_HID"u8, 0x0C, 0x41, 0xD0, 0x0A, 0x03]);              // Name (_HID, DWord EisaId PNP0A03)
        body.AddRange([0x08, .. "_UID"u8, 0x00]);                                       // Name (_UID, Zero)
        body.AddRange([0x08, .. "_CRS"u8, 0x11]);                                       // Name (_CRS, Buffer (...))
        body.AddRange(PackageLength(crs.Count));
        body.AddRange(crs);
        var device = new List<byte> { 0x5B, 0x82 };                                     // DeviceOp (ExtOpPrefix 0x82)
        device.AddRange(PackageLength(body.Count));
        device.AddRange(body);
        return [.. device];
    }

    /// <summary>
    /// A PkgLength (§20.2.4) for <paramref name="contentLength"/> bytes after it: the encoded length counts
    /// its own bytes. One byte up to 63 in all, else two (up to 4095).
    /// </summary>
    private static byte[] PackageLength(int contentLength)
    {
        if (contentLength + 1 <= 63)
            return [(byte)(contentLength + 1)];
        int total = contentLength + 2;
        if (total > 0xFFF)
            throw new ArgumentOutOfRangeException(nameof(contentLength), "AML package too long for a two-byte PkgLength");
        return [(byte)(0x40 | (total & 0x0F)), (byte)(total >> 4)];
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
