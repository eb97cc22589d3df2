using System.IO.Pipelines;
using Lguest.Memory;
using Lguest.Virtio;
using Microsoft.Extensions.Logging;

namespace Lguest.Devices;

/// <summary>
/// Makes the console for each boot over one host-side pipe pair that lives as long as the container:
/// input typed during a reboot waits for the next boot's console, and output is never reordered.
/// </summary>
internal sealed class VirtioConsoleFactory(VirtioConsoleOptions options, ILogger<VirtioConsoleDevice> logger) : IVirtioDeviceFactory, IDisposable
{
    private readonly Lock _lock = new();
    private ConsoleInputPump? _pump;
    private PipeReader? _input;
    private PipeWriter? _output;

    public VirtioConsoleOptions Options => options;

    public IVirtioDevice Create(GuestMemory memory)
    {
        lock (_lock)
        {
            if (_input is null)
            {
                if (options.InputReader is { } reader)
                {
                    _input = reader;
                }
                else
                {
                    _pump = new ConsoleInputPump(options.Input ?? Stream.Null);
                    _input = _pump.Reader;
                }
            }
            _output ??= options.OutputWriter
                ?? PipeWriter.Create(options.Output ?? Stream.Null, new StreamPipeWriterOptions(leaveOpen: true));
            return new VirtioConsoleDevice(memory, _input, _output, options, logger);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _pump?.Dispose();
            // Our own stream writer: flush what is left (the streams themselves belong to the caller).
            if (_output is not null && options.OutputWriter is null)
                _output.Complete();
            _pump = null;
            _output = null;
            _input = null;
        }
    }
}
