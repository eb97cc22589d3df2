namespace Lguest.Tests.Support;

public class KernelLogUntanglerTests
{
    [Test]
    public void A_record_glued_to_the_end_of_a_marker_moves_before_it()
    {
        string console = "GUEST-NET-SENT ab 67108864 98.64[  103.928592] watchdog: BUG: soft lockup [sh:98]\n\nBED-NET-RECEIVED ab 1\n";

        Assert.That(KernelLogUntangler.Untangle(console), Is.EqualTo(
            "[  103.928592] watchdog: BUG: soft lockup [sh:98]\nGUEST-NET-SENT ab 67108864 98.64\nBED-NET-RECEIVED ab 1\n"));
    }

    [Test]
    public void A_record_inside_a_marker_moves_out_and_the_marker_joins_up()
    {
        string console = "GUEST-X e0c3[    1.000001] rcu: stall\n6eae done\n";

        Assert.That(KernelLogUntangler.Untangle(console), Is.EqualTo("[    1.000001] rcu: stall\nGUEST-X e0c36eae done\n"));
    }

    [Test]
    public void Two_records_in_one_line_both_move_out_in_order()
    {
        string console = "A[    1.000001] one\nB[    2.000002] two\nC\n";

        Assert.That(KernelLogUntangler.Untangle(console), Is.EqualTo("[    1.000001] one\n[    2.000002] two\nABC\n"));
    }

    [Test]
    public void Records_at_the_start_of_lines_and_text_without_records_are_left_as_they_are()
    {
        string console = "[    0.000000] Linux version 6.1\nGUEST-INIT-READY\nno [brackets] here\n[  129.337905] reboot: Power down";

        Assert.That(KernelLogUntangler.Untangle(console), Is.EqualTo(console));
    }

    [Test]
    public void A_record_at_the_very_end_without_a_newline_still_moves_out()
    {
        Assert.That(KernelLogUntangler.Untangle("GUEST-Y 1[    5.500000] end"), Is.EqualTo("[    5.500000] end\nGUEST-Y 1"));
    }
}
