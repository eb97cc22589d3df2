namespace Lguest.Seccomp;

/// <summary>What the launcher does with its system-call filter (<c>--seccomp=on|off|log</c>).</summary>
public enum SeccompMode
{
    /// <summary>No filter.</summary>
    Off,

    /// <summary>A call outside the policy kills the process with SIGSYS, after one line naming the call.</summary>
    On,

    /// <summary>A call outside the policy is made, after one line naming it: how a policy is measured.</summary>
    Log,
}
