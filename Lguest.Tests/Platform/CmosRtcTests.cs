using Lguest.Platform;

namespace Lguest.Tests.Platform;

public class CmosRtcTests
{
    private sealed class FixedTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private static byte ReadCmos(CmosRtc rtc, byte index)
    {
        rtc.Write(0, [index]);
        Span<byte> b = stackalloc byte[1];
        rtc.Read(1, b);
        return b[0];
    }

    private static CmosRtc At(DateTimeOffset time) => new(512UL << 20, 0, 2, new FixedTime(time));

    [Test]
    public void The_clock_reads_the_current_time_in_BCD()
    {
        CmosRtc rtc = At(new DateTimeOffset(2025, 11, 25, 13, 45, 59, TimeSpan.Zero));
        Assert.That(new[] { ReadCmos(rtc, 0), ReadCmos(rtc, 2), ReadCmos(rtc, 4), ReadCmos(rtc, 7), ReadCmos(rtc, 8), ReadCmos(rtc, 9), ReadCmos(rtc, 0x32) },
            Is.EqualTo(new byte[] { 0x59, 0x45, 0x13, 0x25, 0x11, 0x25, 0x20 }));
    }

    [Test]
    public void Status_B_says_24_hour_BCD_and_status_A_no_update_in_progress()
    {
        CmosRtc rtc = At(DateTimeOffset.UnixEpoch);
        Assert.That(ReadCmos(rtc, 0x0B) & 0x06, Is.EqualTo(0x02));
        Assert.That(ReadCmos(rtc, 0x0A) & 0x80, Is.Zero);
        Assert.That(ReadCmos(rtc, 0x0D) & 0x80, Is.EqualTo(0x80));
    }

    [Test]
    public void With_binary_mode_set_the_clock_reads_binary()
    {
        CmosRtc rtc = At(new DateTimeOffset(2025, 1, 2, 23, 0, 0, TimeSpan.Zero));
        rtc.Write(0, [0x0B]);
        rtc.Write(1, [0x06]);
        Assert.That(ReadCmos(rtc, 4), Is.EqualTo(23));
    }

    [Test]
    public void The_memory_bytes_describe_the_guest_RAM()
    {
        CmosRtc rtc = At(DateTimeOffset.UnixEpoch);
        int extendedKiB = ReadCmos(rtc, 0x17) | (ReadCmos(rtc, 0x18) << 8);
        int above16M = ReadCmos(rtc, 0x34) | (ReadCmos(rtc, 0x35) << 8);
        Assert.That((extendedKiB, above16M), Is.EqualTo((0xFFFF, (512 - 16) * 16)));
        Assert.That(ReadCmos(rtc, 0x5F), Is.EqualTo(1), "CPU count - 1");
    }

    [Test]
    public void The_NMI_mask_bit_is_not_part_of_the_index()
    {
        CmosRtc rtc = At(DateTimeOffset.UnixEpoch);
        Assert.That(ReadCmos(rtc, 0x8D), Is.EqualTo(ReadCmos(rtc, 0x0D)));
    }
}
