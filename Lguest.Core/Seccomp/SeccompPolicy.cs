namespace Lguest.Seccomp;

/// <summary>
/// The system calls a launcher may make once its guest runs: the table <see cref="LauncherSystemCalls"/> keeps for
/// the launcher and its in-tree devices, plus whatever an embedding application adds for its own devices
/// (<see cref="Add(SystemCallRule)"/>). Rules for one call merge, the looser winning. Calls are tried in the order
/// they were first added, so the hot ones go first.
/// </summary>
public sealed class SeccompPolicy
{
    private readonly List<SystemCallRule> _rules = [];

    /// <summary>The rules in filter order, one per call.</summary>
    public IReadOnlyList<SystemCallRule> Rules => _rules;

    /// <summary>Allows a call (or merges with the rule already there for it).</summary>
    public SeccompPolicy Add(SystemCallRule rule)
    {
        ArgumentNullException.ThrowIfNull(rule);
        int existing = _rules.FindIndex(r => r.Number == rule.Number);
        if (existing >= 0)
            _rules[existing] = _rules[existing].Merge(rule);
        else
            _rules.Add(rule);
        return this;
    }

    /// <summary>Allows every call of <paramref name="rules"/>.</summary>
    public SeccompPolicy Add(IEnumerable<SystemCallRule> rules)
    {
        ArgumentNullException.ThrowIfNull(rules);
        foreach (SystemCallRule rule in rules)
            Add(rule);
        return this;
    }

    /// <summary>The rule for the call named <paramref name="name"/>, if the policy has one.</summary>
    public SystemCallRule? Find(string name) => _rules.Find(r => r.Name == name);

    /// <summary>
    /// The policy for a launcher with the in-tree devices: the runtime, the vCPU loop, the devices' queues and
    /// back ends, and the features asked for (<paramref name="features"/>).
    /// </summary>
    public static SeccompPolicy ForLauncher(LauncherFeatures features = LauncherFeatures.None) =>
        new SeccompPolicy().Add(LauncherSystemCalls.For(features));
}
