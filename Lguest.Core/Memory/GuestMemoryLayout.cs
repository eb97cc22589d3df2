namespace Lguest.Memory;

/// <summary>
/// Where guest RAM sits in the guest-physical address space, and the window left free for device
/// MMIO (PCI BARs). RAM may have a hole below 4 GiB, as on a PC: memory above the hole continues at 4 GiB.
/// </summary>
public sealed class GuestMemoryLayout
{
    /// <summary>The guest page size. Regions and windows are multiples of it.</summary>
    public const ulong PageSize = 4096;

    /// <summary>Where the PC MMIO hole starts by default: 3 GiB, as QEMU's q35 and Firecracker place it.</summary>
    public const ulong DefaultMmioHoleStart = 0xC000_0000;

    /// <summary>4 GiB: RAM displaced by the hole resumes here.</summary>
    public const ulong FourGiB = 0x1_0000_0000;

    /// <summary>
    /// The top of the hole kept for the platform (IOAPIC at 0xfec00000, local APIC at 0xfee00000, the
    /// BIOS area below 4 GiB): device windows stop below it.
    /// </summary>
    public const ulong PlatformReservedStart = 0xFEC0_0000;

    private readonly GuestMemoryRegion[] _regions;

    /// <summary>Creates a layout from RAM regions and the MMIO window for devices.</summary>
    /// <param name="regions">RAM regions, page-aligned, in increasing order, neither overlapping nor touching.</param>
    /// <param name="mmioWindow">Guest-physical range where device BARs may be placed; outside RAM.</param>
    public GuestMemoryLayout(IEnumerable<GuestMemoryRegion> regions, GuestMemoryRegion mmioWindow)
    {
        ArgumentNullException.ThrowIfNull(regions);
        ArgumentNullException.ThrowIfNull(mmioWindow);
        _regions = regions.ToArray();
        if (_regions.Length == 0)
            throw new ArgumentException("a layout needs at least one RAM region", nameof(regions));

        ulong total = 0;
        for (int i = 0; i < _regions.Length; i++)
        {
            GuestMemoryRegion r = _regions[i];
            if (r.Size == 0 || r.Size % PageSize != 0 || !r.Start.IsAligned(PageSize))
                throw new ArgumentException($"RAM region {r} is empty or not page-aligned", nameof(regions));
            if (r.Start.Value + r.Size < r.Start.Value)
                throw new ArgumentException($"RAM region {r} wraps past 2^64", nameof(regions));
            // Touching regions would let one guest buffer span two of them; require them merged.
            if (i > 0 && r.Start.Value <= _regions[i - 1].End.Value)
                throw new ArgumentException($"RAM regions {_regions[i - 1]} and {r} overlap, touch or are out of order", nameof(regions));
            total = checked(total + r.Size);
            if (Overlaps(r, mmioWindow))
                throw new ArgumentException($"RAM region {r} overlaps the MMIO window {mmioWindow}", nameof(mmioWindow));
        }
        TotalSize = total;
        MmioWindow = mmioWindow;
    }

    /// <summary>The RAM regions, in increasing address order.</summary>
    public IReadOnlyList<GuestMemoryRegion> Regions => _regions;

    /// <summary>The sum of the RAM regions' sizes.</summary>
    public ulong TotalSize { get; }

    /// <summary>The first address past the highest RAM region.</summary>
    public GuestAddress End => _regions[^1].End;

    /// <summary>The guest-physical range reserved for device MMIO (PCI BARs).</summary>
    public GuestMemoryRegion MmioWindow { get; }

    /// <summary>
    /// One RAM region from address 0, with the device window straight above it, as the lguest
    /// launcher lays memory out (devices live just past the top of RAM).
    /// </summary>
    /// <param name="ramSize">RAM size in bytes, rounded up to a page.</param>
    /// <param name="mmioWindowSize">Bytes reserved above RAM for devices.</param>
    public static GuestMemoryLayout Flat(ulong ramSize, ulong mmioWindowSize = 256 * PageSize)
    {
        ulong size = RoundUpToPage(ramSize);
        return new GuestMemoryLayout(
            [new GuestMemoryRegion(GuestAddress.Zero, size)],
            new GuestMemoryRegion(new GuestAddress(size), RoundUpToPage(mmioWindowSize)));
    }

    /// <summary>
    /// The PC layout used on KVM: RAM from 0 up to the MMIO hole, the rest from 4 GiB, and the
    /// device window from the hole's start to the platform's reserved top (IOAPIC, local APIC).
    /// </summary>
    /// <param name="ramSize">RAM size in bytes, rounded up to a page.</param>
    /// <param name="mmioHoleStart">Where the hole below 4 GiB starts; page-aligned, at most 4 GiB.</param>
    public static GuestMemoryLayout WithMmioHole(ulong ramSize, ulong mmioHoleStart = DefaultMmioHoleStart)
    {
        if (mmioHoleStart % PageSize != 0 || mmioHoleStart == 0 || mmioHoleStart >= PlatformReservedStart)
            throw new ArgumentOutOfRangeException(nameof(mmioHoleStart), $"hole start 0x{mmioHoleStart:x} must be page-aligned and below 0x{PlatformReservedStart:x}");
        ulong size = RoundUpToPage(ramSize);
        var window = new GuestMemoryRegion(new GuestAddress(mmioHoleStart), PlatformReservedStart - mmioHoleStart);
        if (size <= mmioHoleStart)
            return new GuestMemoryLayout([new GuestMemoryRegion(GuestAddress.Zero, size)], window);
        return new GuestMemoryLayout(
            [
                new GuestMemoryRegion(GuestAddress.Zero, mmioHoleStart),
                new GuestMemoryRegion(new GuestAddress(FourGiB), size - mmioHoleStart),
            ],
            window);
    }

    /// <summary>The RAM region holding [<paramref name="address"/>, +<paramref name="length"/>), if one holds all of it.</summary>
    public bool TryFindRegion(GuestAddress address, ulong length, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out GuestMemoryRegion? region)
    {
        foreach (GuestMemoryRegion r in _regions)
        {
            if (r.Contains(address, length))
            {
                region = r;
                return true;
            }
        }
        region = null;
        return false;
    }

    /// <summary>Whether [<paramref name="address"/>, +<paramref name="length"/>) lies wholly inside one RAM region.</summary>
    public bool Contains(GuestAddress address, ulong length) => TryFindRegion(address, length, out _);

    private static bool Overlaps(GuestMemoryRegion a, GuestMemoryRegion b) =>
        a.Start.Value < b.End.Value && b.Start.Value < a.End.Value;

    private static ulong RoundUpToPage(ulong bytes)
    {
        if (bytes == 0)
            throw new ArgumentOutOfRangeException(nameof(bytes), "guest RAM cannot be empty");
        if (bytes > ulong.MaxValue - PageSize)
            throw new ArgumentOutOfRangeException(nameof(bytes), "guest RAM size is absurd");
        return (bytes + PageSize - 1) & ~(PageSize - 1);
    }
}
