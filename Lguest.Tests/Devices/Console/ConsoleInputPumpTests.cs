using System.IO.Pipelines;
using System.Text;
using Lguest.Devices;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging.Abstractions;
using Lguest.Tests.Support;

namespace Lguest.Tests.Devices.Console;

/// <summary>The host input pump: stream to pipe, bounded, ended with the stream.</summary>
public class ConsoleInputPumpTests
{
    /// <summary>An endless input that counts what was read from it.</summary>
    private sealed class EndlessInput : Stream
    {
        private long _read;

        public long BytesRead => Interlocked.Read(ref _read);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            buffer.Fill((byte)'y');
            Interlocked.Add(ref _read, buffer.Length);
            return buffer.Length;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Test]
    public void The_pump_stops_reading_the_host_when_the_guest_takes_nothing_and_resumes_when_it_does()
    {
        var input = new EndlessInput();
        using var pump = new ConsoleInputPump(input);
        PipeReader reader = pump.Reader;
        // Let it run into the threshold, then check it stopped there.
        SpinWait.SpinUntil(() => input.BytesRead >= ConsoleInputPump.PauseThreshold, VirtqueueDriver.PatienceMilliseconds);
        Thread.Sleep(300);
        long stalled = input.BytesRead;
        Assert.That(stalled, Is.InRange(ConsoleInputPump.PauseThreshold, ConsoleInputPump.PauseThreshold + 4096));

        ReadResult result = reader.ReadAsync().AsTask().GetAwaiter().GetResult();
        reader.AdvanceTo(result.Buffer.End);
        SpinWait.SpinUntil(() => input.BytesRead > stalled, VirtqueueDriver.PatienceMilliseconds);
        Assert.That(input.BytesRead, Is.GreaterThan(stalled));
    }

    [Test]
    public void The_pipe_ends_after_the_last_bytes_of_a_host_input_that_ends()
    {
        using var pump = new ConsoleInputPump(new MemoryStream(Encoding.ASCII.GetBytes("bye")));
        PipeReader reader = pump.Reader;
        var text = new StringBuilder();
        while (true)
        {
            ReadResult result = reader.ReadAsync().AsTask().GetAwaiter().GetResult();
            text.Append(Encoding.ASCII.GetString(result.Buffer));
            reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
                break;
        }
        Assert.That(text.ToString(), Is.EqualTo("bye"));
    }

    [Test]
    public void Input_left_by_one_boot_console_reaches_the_next_boot_console_of_the_same_factory()
    {
        var output = new MemoryStream();
        var options = new VirtioConsoleOptions { Input = new MemoryStream("hi there"u8.ToArray()), Output = output, Name = "console" };
        using var factory = new VirtioConsoleFactory(options, NullLogger<VirtioConsoleDevice>.Instance);
        using var memory = GuestMemory.Allocate(GuestMemoryLayout.Flat(16 << 20));
        using var transport = new RecordingVirtioTransport();
        var arena = new GuestArena(new GuestAddress(1 << 20), 15 << 20);
        const ulong features = VirtioFeatures.Version1;

        // Boot 1: the guest takes three bytes, then reboots.
        using (var receive = new VirtqueueDriver(memory, 0, 8, features, new GuestAddress(0x10000), arena))
        {
            IVirtioDevice first = factory.Create(memory);
            first.Activate(new VirtioActivation(features, [receive.CreateQueue(), null], transport));
            DriverBuffer buffer = receive.Writable(3);
            receive.Add(buffer);
            receive.Kick();
            receive.WaitForUsed(transport);
            Assert.That(Encoding.ASCII.GetString(receive.ReadBuffer(buffer)), Is.EqualTo("hi "));
            first.Reset();
        }

        // Boot 2: a new device from the same factory, new rings.
        using var receive2 = new VirtqueueDriver(memory, 0, 8, features, new GuestAddress(0x20000), arena);
        using var transmit2 = new VirtqueueDriver(memory, 1, 8, features, new GuestAddress(0x30000), arena);
        IVirtioDevice second = factory.Create(memory);
        second.Activate(new VirtioActivation(features, [receive2.CreateQueue(), transmit2.CreateQueue()], transport));
        try
        {
            DriverBuffer buffer2 = receive2.Writable(64);
            receive2.Add(buffer2);
            receive2.Kick();
            uint length = receive2.WaitForUsed(transport).Length;
            Assert.That(Encoding.ASCII.GetString(receive2.ReadBuffer(buffer2).AsSpan(0, (int)length)), Is.EqualTo("there"));

            transmit2.Add(transmit2.Readable("ok\n"u8));
            transmit2.Kick();
            transmit2.WaitForUsed(transport);
            Assert.That(Encoding.ASCII.GetString(output.ToArray()), Is.EqualTo("ok\n"));
        }
        finally
        {
            second.Reset();
        }
    }

    [Test]
    public void A_null_host_input_ends_the_pipe_at_once()
    {
        using var pump = new ConsoleInputPump(Stream.Null);
        PipeReader reader = pump.Reader;
        Assert.That(reader.TryRead(out ReadResult result), Is.True, "the end is there without a pump thread's first read");
        Assert.That((result.IsCompleted, result.Buffer.Length), Is.EqualTo((true, 0L)));
    }
}
